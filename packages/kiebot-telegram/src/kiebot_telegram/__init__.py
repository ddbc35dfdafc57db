"""The aiogram adapter: routers, rendering and texts (issue: the Telegram bot)."""
