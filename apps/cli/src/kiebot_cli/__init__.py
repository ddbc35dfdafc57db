"""kiebot: the command-line shell over the core."""
