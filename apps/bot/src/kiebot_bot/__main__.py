"""``kiebot-bot [--polling | --webhook] [--no-migrate]``: the Telegram bot's entry point."""

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Sequence

from kiebot_bot.logs import configure_logging
from kiebot_bot.runtime import run_bot, run_worker
from kiebot_bot.settings import BotSettings, Mode, load_settings
from kiebot_bot.wiring import MigrationsPendingError, open_runtime
from kiebot_core.domain.errors import SettingsError, StorageUnavailableError

_log = logging.getLogger("kiebot_bot")

EXIT_CONFIG = 2
SANDBOX_BANNER = (
    "KIE SANDBOX: no KIE_API_KEY is set, so generations run against the built-in KIE "
    "sandbox on loopback. Results are placeholders; never sell them. Set KIE_API_KEY for KIE."
)


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kiebot-bot", description="The kiebot Telegram bot.")
    parser.add_argument(
        "command",
        nargs="?",
        choices=["worker"],
        help="worker: run generation jobs only (scale out beside the bot)",
    )
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--polling", action="store_true", help="long polling (the default)")
    modes.add_argument(
        "--webhook", action="store_true", help="webhook mode (WEBHOOK_URL, WEBHOOK_SECRET)"
    )
    parser.add_argument(
        "--no-migrate",
        action="store_true",
        help="refuse to start on an old schema instead of applying migrations",
    )
    return parser.parse_args(argv)


async def serve(settings: BotSettings, *, migrate: bool, worker: bool = False) -> None:
    """Run the bot until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if settings.use_sandbox:
        _log.warning(SANDBOX_BANNER)
    async with open_runtime(settings, migrate=migrate) as runtime:
        # Everything loaded so far lives as long as the process: keep it out of the cyclic
        # collector's full passes, which otherwise pause every update for ~200 ms.
        gc.freeze()
        if worker:
            await run_worker(runtime, stop)
        else:
            await run_bot(runtime, stop)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    mode = Mode.WEBHOOK if args.webhook else Mode.POLLING
    try:
        settings = load_settings(os.environ, mode)
    except SettingsError as error:
        _say(f"kiebot-bot: {error.variable} {error.problem}")
        return EXIT_CONFIG
    configure_logging(settings.secrets)
    if settings.use_sandbox:
        _say(f"kiebot-bot: {SANDBOX_BANNER}")
    try:
        asyncio.run(serve(settings, migrate=not args.no_migrate, worker=args.command == "worker"))
    except SettingsError as error:
        _say(f"kiebot-bot: {error.variable} {error.problem}")
        return EXIT_CONFIG
    except MigrationsPendingError as error:
        _say(f"kiebot-bot: {error}; run without --no-migrate")
        return EXIT_CONFIG
    except StorageUnavailableError as error:
        _say(f"kiebot-bot: DATABASE_URL cannot be reached ({error.detail})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
