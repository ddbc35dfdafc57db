"""Real ``kiebot-bot --webhook`` processes behind a round-robin proxy, all on loopback.

A cluster is made of (every piece is real HTTP or TCP on 127.0.0.1):

- the fake Telegram Bot API (``tests/telegram/fake_bot_api.py``) in the caller's event loop,
  with a bot token of its own (a random bot id, so inbox rows and Redis keys of one cluster
  never meet another's). Once an instance calls ``setWebhook`` it POSTs every update to the
  proxy like Telegram: oldest first, one at a time per chat, at most 40 at once, and it retries
  an update after a non-2xx answer, a refused or dropped connection, or 10 s without an answer;
- one KIE sandbox (``run_sandbox``, fast timing, no rate limit) in the same event loop, shared
  by every instance through ``KIE_API_KEY``/``KIE_BASE_URL``/``KIE_UPLOAD_BASE_URL``: a
  generation one instance started can be tracked and delivered by another. Its callbacks come
  back through the proxy (``PUBLIC_BASE_URL``), which is what makes cross-process generations
  fast: with a KIE key the bot polls on KIE's own schedule (2-3 s), ``KIEBOT_SANDBOX_FAST``
  only speeds up the sandbox a bot embeds with ``KIEBOT_SANDBOX=1`` (one per process: useless
  here);
- N :class:`BotProcess` es: ``kiebot-bot --webhook`` subprocesses on ports of their own (kept
  across restarts), over one PostgreSQL database (the caller's ``database_url``; a fresh one
  per test or run) and Redis (``REDIS_URL``);
- :class:`RoundRobinProxy` in front of them: ``WEBHOOK_URL`` and ``PUBLIC_BASE_URL`` point at
  it. It balances per connection and skips an instance that refuses the connection; a dead
  instance's connections drop, so the fake sees an error and sends the update again.

Typical use (a test gets ``pg_dsn`` and ``tmp_path`` from fixtures, see ``conftest.py``)::

    async with start_cluster(pg_dsn, tmp_path, instances=2) as cluster:
        stream = SearchStream.of(cluster.api, users=20, per_user=10)
        sending = asyncio.create_task(stream.run(interval_s=0.05))
        victim = await cluster.wait_leader()  # /readyz says leader: true
        await asyncio.sleep(0.3)
        await victim.kill9()                  # SIGKILL mid-stream
        await sending
        await victim.restart()                # same port, same environment
        await stream.wait_answered(within_s=90)
        assert stream.missing() == []
        duplicated = stream.duplicated()      # {(chat, query): answers} of updates answered twice

Reading the results: :class:`SearchStream` counts answers per update; ``cluster.api`` is the
fake (chats, calls, ``webhook_errors``); ``cluster.store`` is a unit-of-work factory over the
instances' database (``cluster.pool`` for raw SQL); :meth:`Cluster.wait_until` waits for a
condition on what the bot sent. ``FakeUser``'s ``wait=True`` works as in the in-process tests:
the fake waits until the update is acknowledged and no longer live in the inbox.

Every subprocess runs in a process group of its own and is killed when the cluster block ends
(also when the test fails), and it kills itself if this process dies first (a guard thread
watches its stdin pipe), so no run leaves a bot behind. Each instance's stdout and stderr go to
``<workdir>/<name>.log`` (appended across restarts, with a header per start); start-up failures
raise :class:`BotStartError` with the log's tail.

Things the bot does not let a test change (constants in the app, not settings): how often the
job loop and the inbox's idle poll run, how long an update claimed by an instance that dies
stays its own before another instance takes it (``kiebot_telegram.inbox.CLAIM_LEASE``), how
long the leader lease outlives a dead leader, and how long a stopping instance lets the updates
in hand finish. A kill test waits for them; :meth:`Cluster.claimed` shows what is held.
"""

import asyncio
import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any

import aiohttp
import attrs

from kiebot_kie.sandbox.server import Sandbox, run_sandbox
from kiebot_pg.pool import PgPool, open_pool
from kiebot_pg.uow import PgUnitOfWorkFactory
from tests.telegram.fake_bot_api import ApiCall, FakeBotApi, FakeUser
from tests.telegram.harness import free_port

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
WEBHOOK_PATH = "/tg/hook"
WEBHOOK_SECRET = "cluster-secret_1"  # noqa: S105  # a made-up webhook secret
KIE_API_KEY = "cluster-sandbox-key"
"""Any key: the sandbox accepts every ``Bearer`` key."""
REDIS_URL = os.environ.get("KIEBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
READY_WITHIN_S = 60.0
"""How long an instance may take from spawn to ``/readyz`` 200 (migrations included)."""
STOP_WITHIN_S = 20.0
"""How long SIGTERM may take before SIGKILL follows (the bot's own grace is 10 s)."""
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105  # a header name

_CLEARED_PREFIXES = ("KIE_", "KIEBOT_", "TELEGRAM_", "WEBHOOK_")
_CLEARED_NAMES = frozenset(
    {"DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL", "ADMIN_IDS", "HOST", "PORT"}
)

GUARD = """\
import os, runpy, signal, sys, threading

def _guard():
    # The test process holds the other end of stdin: EOF means it is gone. (A raw read: a
    # daemon thread blocked in a buffered read would abort the interpreter at exit.)
    while os.read(0, 1):
        pass
    os.kill(os.getpid(), signal.SIGKILL)

threading.Thread(target=_guard, name="parent-guard", daemon=True).start()
sys.argv = ["kiebot-bot", *sys.argv[1:]]
runpy.run_module("kiebot_bot", run_name="__main__", alter_sys=True)
"""
"""What a :class:`BotProcess` runs with ``python -c``: ``kiebot-bot`` exactly as its console
script does (``kiebot_bot.__main__``), plus a thread that SIGKILLs the process when this test
process dies without cleaning up (its stdin pipe reaches EOF)."""


class BotStartError(RuntimeError):
    """An instance exited, or did not become ready in time; the message has its log's tail."""


def base_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any kiebot setting (a developer's shell may set
    some), plus ``extra``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_CLEARED_PREFIXES) and name not in _CLEARED_NAMES
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@attrs.frozen
class Readyz:
    """One answer of ``GET /readyz``."""

    status: int
    body: Mapping[str, Any]

    @property
    def ready(self) -> bool:
        return self.status == 200 and bool(self.body.get("ready"))

    @property
    def leader(self) -> bool:
        return bool(self.body.get("leader"))

    @property
    def database(self) -> bool:
        return bool(self.body.get("database"))


# ---------------------------------------------------------------------------------- processes


@attrs.define(eq=False)
class BotProcess:
    """One ``kiebot-bot`` subprocess (``--webhook`` unless ``args`` says otherwise).

    It listens on ``127.0.0.1:port`` (the same port after every restart, so the proxy keeps
    finding it). ``env`` is its whole environment. Use :meth:`start`, :meth:`kill9`,
    :meth:`terminate`, :meth:`restart` and :meth:`readyz`; :attr:`exit_codes` lists how each
    run ended (``-9`` after :meth:`kill9`).
    """

    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    args: tuple[str, ...] = ("--webhook",)
    starts: int = 0
    """How many times it was spawned."""
    exit_codes: list[int] = attrs.Factory(list)
    """The return code of every run that ended, in order (negative: killed by that signal)."""
    _process: "subprocess.Popen[bytes] | None" = None
    _log: IO[bytes] | None = None

    # ---------------------------------------------------------------- facts

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: its own HTTP server (``/readyz``, the webhook...)."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def webhook_url(self) -> str:
        """Its webhook, straight (not through the proxy)."""
        return self.url + WEBHOOK_PATH

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        """True from spawn until the process exited (checked now)."""
        if self._process is None:
            return False
        if self._process.poll() is None:
            return True
        self._reaped()
        return False

    @property
    def returncode(self) -> int | None:
        """How the last run ended (None while running or before the first start)."""
        if self.running or not self.exit_codes:
            return None
        return self.exit_codes[-1]

    def log(self) -> str:
        """Everything the instance wrote so far, over all its runs."""
        if self._log is not None:
            self._log.flush()
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    # ---------------------------------------------------------------- life cycle

    async def start(self, *, ready_within_s: float = READY_WITHIN_S) -> Readyz:
        """Spawn it and wait until ``/readyz`` answers 200; that answer."""
        self.spawn()
        return await self.wait_ready(within_s=ready_within_s)

    def spawn(self) -> None:
        """Start the process without waiting for it (see :meth:`wait_ready`)."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self._close_log()
        self.starts += 1
        self._log = self.log_path.open("ab")
        stamp = time.strftime("%H:%M:%S")
        header = f"===== {self.name} start #{self.starts} at {stamp}: {' '.join(self.args)}\n"
        self._log.write(header.encode())
        self._log.flush()
        self._process = subprocess.Popen(  # spawning does not block
            [sys.executable, "-c", GUARD, *self.args],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    async def wait_ready(self, *, within_s: float = READY_WITHIN_S) -> Readyz:
        """Wait until ``/readyz`` answers 200; raises :class:`BotStartError` (with the log's
        tail) when the process exits first or ``within_s`` passes, and then kills it."""
        deadline = time.monotonic() + within_s
        last: Readyz | None = None
        while True:
            if not self.running:
                raise BotStartError(
                    f"{self.name} exited with {self.returncode} before it was ready:\n"
                    f"{self.log_tail()}"
                )
            last = await self.readyz()
            if last is not None and last.status == 200:
                return last
            if time.monotonic() > deadline:
                await self.kill9()
                raise BotStartError(
                    f"{self.name} was not ready within {within_s} s (last /readyz: {last}):\n"
                    f"{self.log_tail()}"
                )
            await asyncio.sleep(0.05)

    async def readyz(self, *, timeout_s: float = 3.0) -> Readyz | None:
        """``GET /readyz`` now; None when nothing answers (not started, dead, too slow)."""
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as http,
                http.get(self.url + "/readyz") as response,
            ):
                body = await response.json(content_type=None)
                return Readyz(response.status, body if isinstance(body, dict) else {})
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None

    async def kill9(self) -> int | None:
        """SIGKILL its process group and wait until it is gone; the return code (-9; None
        when it was never started)."""
        self._signal(signal.SIGKILL)
        return await self._wait_exit(None)

    async def terminate(self, *, within_s: float = STOP_WITHIN_S) -> int | None:
        """SIGTERM (a graceful stop), wait up to ``within_s``, then SIGKILL; the return code
        (0 after a clean stop; None when it was never started)."""
        self._signal(signal.SIGTERM)
        code = await self._wait_exit(within_s)
        if code is None:
            return await self.kill9()
        return code

    async def restart(self, *, ready_within_s: float = READY_WITHIN_S) -> Readyz:
        """Stop it gracefully when it runs, then start it again on the same port."""
        if self.running:
            await self.terminate()
        return await self.start(ready_within_s=ready_within_s)

    def kill_now(self) -> None:
        """SIGKILL and reap at once, synchronously (teardown; safe when it is not running)."""
        process = self._process
        if process is not None and process.poll() is None:
            self._signal(signal.SIGKILL)
            process.wait(timeout=10)
        self._reaped()
        self._close_log()

    # ---------------------------------------------------------------- internals

    def _signal(self, sig: signal.Signals) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return  # not spawned, or already exited: its pid may belong to someone else now
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)

    async def _wait_exit(self, within_s: float | None) -> int | None:
        process = self._process
        if process is None:
            return self.returncode
        deadline = None if within_s is None else time.monotonic() + within_s
        while process.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.02)
        self._reaped()
        return process.returncode

    def _reaped(self) -> None:
        """Book an ended run once: its code, its stdin pipe closed (the guard sees EOF)."""
        process = self._process
        if process is None or process.returncode is None:
            return
        self.exit_codes.append(process.returncode)
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        self._process = None

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


# ---------------------------------------------------------------------------------- the proxy


_BAD_GATEWAY = (
    b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n"
    b"Connection: close\r\n\r\nno instance is reachable"
)


@attrs.define(eq=False)
class RoundRobinProxy:
    """A TCP proxy on ``127.0.0.1:port`` over backends on loopback ports, round robin per
    connection.

    A connection goes to the next backend in turn; when that one refuses (a killed instance),
    the next is tried, so no request is lost to a dead instance. When none accepts, the client
    gets ``502 Bad Gateway`` at once. When a backend dies mid-request its client connections
    drop (Telegram, and the fake, see a connection error and send the update again).

    Balancing is per connection, and HTTP keeps connections alive: a restarted instance only
    gets the connections opened after it came back. :meth:`drop_connections` makes every
    client connect again (rebalancing at once).
    """

    backends: list[int]
    """The backend ports, in rotation order (change with :meth:`add` and :meth:`remove`)."""
    port: int = 0
    connect_timeout_s: float = 1.0
    joined: Counter[int] = attrs.Factory(Counter)
    """Client connections joined to each backend port."""
    refused: Counter[int] = attrs.Factory(Counter)
    """Connection attempts each backend port refused (or did not accept in time)."""
    unavailable: int = 0
    """Client connections answered 502 because no backend accepted them."""
    _turn: int = 0
    _links: dict[asyncio.StreamWriter, int] = attrs.Factory(dict)
    _tasks: set["asyncio.Task[Any]"] = attrs.Factory(set)
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def add(self, port: int) -> None:
        """Put a backend into the rotation."""
        if port not in self.backends:
            self.backends.append(port)

    def remove(self, port: int) -> None:
        """Take a backend out of the rotation (its open connections stay until they close)."""
        if port in self.backends:
            self.backends.remove(port)

    def open_connections(self, port: int | None = None) -> int:
        """Client connections open now (to ``port`` only, when given)."""
        return sum(1 for joined in self._links.values() if port is None or joined == port)

    def drop_connections(self, port: int | None = None) -> int:
        """Close the client connections (those joined to ``port``, when given); how many."""
        dropped = [writer for writer, joined in self._links.items() if port in {None, joined}]
        for writer in dropped:
            writer.close()
        return len(dropped)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, LOOPBACK, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._links):
            writer.close()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        if self._server is not None:
            await self._server.wait_closed()

    def _rotation(self) -> list[int]:
        """The backends to try for a new connection: the next in turn first."""
        ports = list(self.backends)
        if not ports:
            return []
        first = self._turn % len(ports)
        self._turn = first + 1
        return ports[first:] + ports[:first]

    def _took(self, port: int) -> None:
        """``port`` accepted: the next connection goes to the backend after it (so a dead
        backend's turns are shared by all the others, not given to its neighbour)."""
        if port in self.backends:
            self._turn = self.backends.index(port) + 1

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            for port in self._rotation():
                try:
                    async with asyncio.timeout(self.connect_timeout_s):
                        upstream = await asyncio.open_connection(LOOPBACK, port)
                except (OSError, TimeoutError):
                    self.refused[port] += 1
                    continue
                self.joined[port] += 1
                self._took(port)
                await self._join(reader, writer, port, *upstream)
                return
            self.unavailable += 1
            await self._bad_gateway(reader, writer)
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _join(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        port: int,
        upstream_reader: asyncio.StreamReader,
        upstream_writer: asyncio.StreamWriter,
    ) -> None:
        self._links[writer] = port
        self._links[upstream_writer] = port
        try:
            await asyncio.gather(
                self._pipe(reader, upstream_writer, writer),
                self._pipe(upstream_reader, writer, upstream_writer),
            )
        finally:
            self._links.pop(writer, None)
            self._links.pop(upstream_writer, None)

    @staticmethod
    async def _pipe(
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        source_writer: asyncio.StreamWriter,
    ) -> None:
        """Copy until either side ends; then close both, so nothing waits on a half."""
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.close()
        source_writer.close()

    @staticmethod
    async def _bad_gateway(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read the request (so closing does not reset it away) and answer 502."""
        with contextlib.suppress(OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            async with asyncio.timeout(1.0):
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
                if length is not None:
                    await reader.readexactly(min(int(length.group(1)), 1 << 20))
        with contextlib.suppress(OSError):
            writer.write(_BAD_GATEWAY)
            await writer.drain()
        writer.close()


@asynccontextmanager
async def round_robin_proxy(backends: Iterable[int]) -> AsyncIterator[RoundRobinProxy]:
    """A :class:`RoundRobinProxy` on a free loopback port for the block."""
    proxy = RoundRobinProxy(list(backends))
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


# ---------------------------------------------------------------------------------- the cluster


def random_token() -> str:
    """A bot token with a random bot id (inbox rows and Redis keys are per bot id)."""
    bot_id = 6_000_000_000 + secrets.randbelow(1_000_000_000)
    return f"{bot_id}:TEST-cluster_{secrets.token_hex(8)}"


_LIVE_UPDATE = """
    SELECT EXISTS (
        SELECT FROM update_inbox
        WHERE bot_id = $1 AND update_id = $2 AND NOT processed AND parked_reason IS NULL
    )
"""

_CLAIMED = """
    SELECT update_id FROM update_inbox
    WHERE bot_id = $1 AND NOT processed AND parked_reason IS NULL AND claimed_until > now()
    ORDER BY update_id
"""


@attrs.define(eq=False)
class Cluster:
    """Everything :func:`start_cluster` runs; the bots are :attr:`bots` (``bot-1``...).

    :attr:`store` reads and writes the instances' database from the test (a small pool of
    its own). The fake's ``processed`` (and so ``FakeUser``'s ``wait=True``) waits until the
    update is acknowledged and then no longer live in the inbox: handled (or parked) by
    whichever instance claimed it.
    """

    api: FakeBotApi
    sandbox: Sandbox
    proxy: RoundRobinProxy
    database_url: str
    store: PgUnitOfWorkFactory
    workdir: Path
    common_env: dict[str, str]
    """The environment every instance shares (each adds its ``PORT`` and ``KIEBOT_HOME``)."""
    bots: list[BotProcess] = attrs.Factory(list)

    @property
    def webhook_url(self) -> str:
        """``WEBHOOK_URL``: the webhook through the proxy."""
        return self.proxy.url + WEBHOOK_PATH

    @property
    def pool(self) -> PgPool:
        """The test's pool over the instances' database (for SQL of its own)."""
        return self.store.pool

    async def handled(self, update_id: int) -> bool:
        """True when ``update_id`` is not live in the inbox (handled or parked, or never
        stored)."""
        live = await self.pool.fetchval(_LIVE_UPDATE, self.api.bot_id, update_id)
        return not live

    def running(self) -> list[BotProcess]:
        return [bot for bot in self.bots if bot.running]

    def new_bot(self, *, args: Sequence[str] = ("--webhook",), **env: str) -> BotProcess:
        """A new instance on a port of its own, in the proxy's rotation, not started yet.

        ``env`` adds to or overrides the shared environment (``KIEBOT_WELCOME_STARS="0"``).
        """
        name = f"bot-{len(self.bots) + 1}"
        port = free_port()
        home = self.workdir / name
        home.mkdir(parents=True, exist_ok=True)
        bot = BotProcess(
            name=name,
            port=port,
            env={**self.common_env, "PORT": str(port), "KIEBOT_HOME": str(home), **env},
            log_path=self.workdir / f"{name}.log",
            args=tuple(args),
        )
        self.bots.append(bot)
        self.proxy.add(port)
        return bot

    async def add_bot(
        self,
        *,
        ready_within_s: float = READY_WITHIN_S,
        args: Sequence[str] = ("--webhook",),
        **env: str,
    ) -> BotProcess:
        """Start one more instance (a deploy's new version) and wait until it is ready."""
        bot = self.new_bot(args=args, **env)
        await bot.start(ready_within_s=ready_within_s)
        return bot

    async def claimed(self) -> list[int]:
        """The update ids an instance claimed and has not finished, now (by the database
        clock). Some time after a SIGKILL, what remains is what the dead instance had in hand:
        those updates wait for their claim to lapse, and may be answered twice."""
        rows = await self.pool.fetch(_CLAIMED, self.api.bot_id)
        return [int(row["update_id"]) for row in rows]

    async def wait_until(self, condition: Callable[[], object], *, within_s: float = 30.0) -> None:
        """Wait until ``condition()`` is true, checking it after every Bot API call the fake
        records; AssertionError after ``within_s``."""
        called = asyncio.Event()

        def observe(_: ApiCall) -> None:
            called.set()

        self.api.observers.append(observe)
        try:
            async with asyncio.timeout(within_s):
                while True:
                    called.clear()
                    if condition():
                        return
                    await called.wait()
        except TimeoutError:
            raise AssertionError(f"condition not met within {within_s} s") from None
        finally:
            self.api.observers.remove(observe)

    async def readiness(self) -> dict[str, Readyz | None]:
        """``/readyz`` of every instance, by name (None: it does not answer)."""
        answers = await asyncio.gather(*(bot.readyz() for bot in self.bots))
        return {bot.name: answer for bot, answer in zip(self.bots, answers, strict=True)}

    async def leaders(self) -> list[BotProcess]:
        """The running instances whose ``/readyz`` says ``leader: true`` now."""
        states = await self.readiness()
        return [
            bot
            for bot in self.bots
            if (state := states[bot.name]) is not None and state.leader and bot.running
        ]

    async def wait_leader(self, *, within_s: float = 30.0) -> BotProcess:
        """Wait until exactly one running instance is the leader; that instance."""
        deadline = time.monotonic() + within_s
        while True:
            found = await self.leaders()
            if len(found) == 1:
                return found[0]
            if time.monotonic() > deadline:
                names = [bot.name for bot in found]
                raise AssertionError(f"no single leader within {within_s} s: {names}")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        """Stop every instance gracefully (SIGTERM, then SIGKILL after ``STOP_WITHIN_S``)."""
        await asyncio.gather(*(bot.terminate() for bot in self.bots if bot.running))

    def logs(self) -> str:
        """The tail of every instance's log (for a failing assertion's message)."""
        return "\n".join(f"----- {bot.name}\n{bot.log_tail(40)}" for bot in self.bots)


@asynccontextmanager
async def start_cluster(
    database_url: str,
    workdir: Path,
    *,
    instances: int = 2,
    env: Mapping[str, str] | None = None,
    redis_url: str | None = REDIS_URL,
    ready_within_s: float = READY_WITHIN_S,
    start: bool = True,
) -> AsyncIterator[Cluster]:
    """The fake Bot API, the shared KIE sandbox, the proxy and ``instances`` bots.

    ``database_url`` is the instances' PostgreSQL database (migrated or empty: every instance
    migrates at start-up under the advisory lock); ``workdir`` gets each instance's log and
    ``KIEBOT_HOME``; ``env`` adds settings to every instance (the defaults give each new user
    100 welcome stars); ``redis_url=None`` leaves ``REDIS_URL`` unset. With ``start`` the
    instances are started together and the block begins once all are ready; without it they
    are only created (start them with :meth:`BotProcess.start`).

    When the block ends, every instance gets SIGTERM (SIGKILL after ``STOP_WITHIN_S``); on an
    error in the block they are SIGKILLed at once. Nothing outlives the block.
    """
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    api = FakeBotApi(token=random_token())
    await api.start()
    try:
        async with (
            run_sandbox(fast=True, rate_limit=False) as sandbox,
            round_robin_proxy([]) as proxy,
            open_pool(database_url, min_size=1, max_size=4) as pool,
        ):
            common = base_environment(
                {
                    "TELEGRAM_BOT_TOKEN": api.token,
                    "TELEGRAM_API_BASE": api.base_url,
                    "DATABASE_URL": database_url,
                    "KIE_API_KEY": KIE_API_KEY,
                    "KIE_BASE_URL": sandbox.base_url,
                    "KIE_UPLOAD_BASE_URL": sandbox.upload_base_url,
                    "PUBLIC_BASE_URL": proxy.url,
                    "WEBHOOK_URL": proxy.url + WEBHOOK_PATH,
                    "WEBHOOK_SECRET": WEBHOOK_SECRET,
                    "HOST": LOOPBACK,
                    "KIEBOT_WELCOME_STARS": "100",
                    **({"REDIS_URL": redis_url} if redis_url else {}),
                    **(env or {}),
                }
            )
            store = PgUnitOfWorkFactory(pool)
            cluster = Cluster(api, sandbox, proxy, database_url, store, workdir, common)
            api.handled = cluster.handled
            try:
                for _ in range(instances):
                    cluster.new_bot()
                if start:
                    for bot in cluster.bots:
                        bot.spawn()
                    await asyncio.gather(
                        *(bot.wait_ready(within_s=ready_within_s) for bot in cluster.bots)
                    )
                yield cluster
                await cluster.stop()
            finally:
                for bot in cluster.bots:
                    bot.kill_now()
    finally:
        await api.close()


# ---------------------------------------------------------------------------------- traffic


def random_user_base() -> int:
    """A random first user id, a multiple of 10 000: runs that share Redis (whose per-user
    rate-limit keys are not per bot) never count each other's updates."""
    return 10_000 * (10_000 + secrets.randbelow(90_000))


def search_query(user_id: int, number: int) -> str:
    """A search that finds nothing; the bot answers it with one message quoting it."""
    return f"zzq{user_id}x{number}"


_QUOTED = re.compile(r"«(zzq\d+x\d+)»")


@attrs.define(eq=False)
class SearchStream:
    """Users who each send numbered searches that find nothing.

    The bot answers every such update with exactly one message that quotes it (``Nothing found
    for «zzq<user>x<n>»``), so answers can be counted per update: :meth:`missing`,
    :meth:`duplicated` and :meth:`out_of_order` read the fake's chats.
    """

    api: FakeBotApi
    users: list[FakeUser]
    per_user: int
    sent: dict[int, list[str]] = attrs.Factory(dict)
    """Each user's queries in the order sent."""
    update_ids: dict[int, tuple[int, str]] = attrs.Factory(dict)
    """update_id -> (user id, query)."""

    @classmethod
    def of(
        cls, api: FakeBotApi, *, users: int, per_user: int, first_id: int | None = None
    ) -> "SearchStream":
        """``users`` new English-speaking users (ids from ``first_id``, random by default)."""
        base = random_user_base() if first_id is None else first_id
        people = [api.user(base + n, f"User{n}", "en") for n in range(users)]
        return cls(api, people, per_user)

    @property
    def total(self) -> int:
        return len(self.users) * self.per_user

    async def send_round(self, number: int) -> None:
        """Every user sends their ``number``-th search (queued at the fake, not waited for)."""
        for user in self.users:
            query = search_query(user.id, number)
            self.sent.setdefault(user.id, []).append(query)
            update_id = await user.send(query, wait=False)
            self.update_ids[update_id] = (user.id, query)

    async def run(self, *, interval_s: float = 0.0) -> None:
        """Send all ``per_user`` rounds, ``interval_s`` apart (0: all at once)."""
        for number in range(self.per_user):
            await self.send_round(number)
            if interval_s:
                await asyncio.sleep(interval_s)

    def answers(self, user_id: int) -> list[str]:
        """The queries the bot's messages to ``user_id`` quote, in the order they came."""
        return [
            match
            for message in self.api.messages(user_id)
            if message.from_bot
            for match in _QUOTED.findall(message.shown)
        ]

    def counts(self) -> Counter[tuple[int, str]]:
        """(user id, query) -> how many bot messages answered it."""
        found: Counter[tuple[int, str]] = Counter()
        for user in self.users:
            found.update((user.id, query) for query in self.answers(user.id))
        return found

    def missing(self) -> list[tuple[int, str]]:
        """Sent searches nobody answered."""
        counts = self.counts()
        return [
            (user_id, query)
            for user_id, queries in self.sent.items()
            for query in queries
            if counts[user_id, query] == 0
        ]

    def duplicated(self) -> dict[tuple[int, str], int]:
        """Searches answered more than once, with how many answers each got."""
        return {key: count for key, count in self.counts().items() if count > 1}

    def out_of_order(self) -> list[int]:
        """Users whose answers (first answer of each search) are not in the order sent."""
        wrong = []
        for user_id, queries in self.sent.items():
            firsts = list(dict.fromkeys(self.answers(user_id)))
            if firsts != queries[: len(firsts)]:
                wrong.append(user_id)
        return wrong

    def answered(self) -> int:
        """How many sent searches have at least one answer."""
        counts = self.counts()
        return sum(
            1 for user_id, queries in self.sent.items() for q in queries if counts[user_id, q]
        )

    async def wait_answered(self, *, within_s: float = 60.0, quiet_s: float = 0.3) -> None:
        """Wait until every sent search has an answer, then until the bot is quiet for
        ``quiet_s`` (so late duplicates show); AssertionError naming the missing otherwise."""
        deadline = time.monotonic() + within_s
        while self.missing():
            if time.monotonic() > deadline:
                missing = self.missing()
                raise AssertionError(
                    f"{len(missing)} of {self.total} searches unanswered after {within_s} s, "
                    f"e.g. {missing[:5]}"
                )
            await asyncio.sleep(0.1)
        await self.api.settle(quiet=quiet_s, within_s=max(1.0, deadline - time.monotonic()))
