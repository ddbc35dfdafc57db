"""Talk to a locally running ``kiebot-bot`` through the fake Bot API, from a terminal.

    uv run python -m tests.telegram.serve_fake [--port 8081] [--language en]

Then start the bot in another terminal with ``TELEGRAM_API_BASE=http://127.0.0.1:8081`` and the
token this prints. Type a line to send it as the user; ``:press LABEL`` presses the newest button
whose label contains LABEL; ``:photo PATH`` sends a picture; ``:show`` prints the chat; ``:quit``.
"""

import argparse
import asyncio
import sys
from pathlib import Path

from tests.telegram.fake_bot_api import FakeBotApi, FakeUser


def _print_changes(user: FakeUser, seen: dict[int, tuple[str, list[str]]]) -> None:
    for message in user.bot_messages():
        now = (message.shown, message.labels())
        if seen.get(message.message_id) != now:
            edited = "edited " if message.message_id in seen else ""
            media = f"[{message.media}] " if message.media else ""
            sys.stdout.write(f"\n--- bot {edited}#{message.message_id} {media}\n{message.shown}\n")
            if message.labels():
                sys.stdout.write("    [" + "] [".join(message.labels()) + "]\n")
            seen[message.message_id] = now
    sys.stdout.flush()


async def _act(user: FakeUser, line: str) -> None:
    if line.startswith(":press "):
        await user.press(line.removeprefix(":press ").strip(), wait=False)
    elif line.startswith(":photo "):
        path = Path(line.removeprefix(":photo ").strip())
        await user.send_photo(await asyncio.to_thread(path.read_bytes), wait=False)
    elif line == ":show":
        sys.stdout.write(user.transcript() + "\n")
    elif line:
        await user.send(line, wait=False)


async def main(port: int, language: str) -> None:
    api = FakeBotApi()
    await api.start(port=port)
    user = api.user(language_code=language)
    sys.stdout.write(
        f"fake Bot API on {api.base_url}\n"
        f"  TELEGRAM_BOT_TOKEN={api.token}\n  TELEGRAM_API_BASE={api.base_url}\n"
    )
    seen: dict[int, tuple[str, list[str]]] = {}
    loop = asyncio.get_running_loop()
    try:
        while True:
            reader = loop.run_in_executor(None, sys.stdin.readline)
            while not reader.done():
                _print_changes(user, seen)
                await asyncio.sleep(0.2)
            line = reader.result()
            if not line or line.strip() == ":quit":
                return
            try:
                await _act(user, line.strip())
            except AssertionError as problem:
                sys.stdout.write(f"{problem}\n")
    finally:
        await api.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--language", default="en")
    args = parser.parse_args()
    asyncio.run(main(args.port, args.language))
