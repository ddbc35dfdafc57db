from kiebot_cli.main import main

main()
