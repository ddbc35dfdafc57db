"""The aiogram adapter: routers, rendering, texts, FSM storage and result delivery."""
