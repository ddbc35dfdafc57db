"""kiebot-bot: the Telegram bot composition root."""
