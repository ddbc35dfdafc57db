"""Fixtures shared by the whole suite: the loopback-only network guard, PostgreSQL and Redis."""

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

PG_ADMIN_DSN = os.environ.get(
    "KIEBOT_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
"""Administrative access; tests create their own databases from it."""

REQUIRE_PG = os.environ.get("CI") == "true" or os.environ.get("KIEBOT_REQUIRE_PG") == "1"
"""Under CI an unreachable PostgreSQL fails the tests instead of skipping them."""

REDIS_URL = os.environ.get("KIEBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379")
"""The shared Redis server; tests keep to keys of their own (never FLUSHALL or FLUSHDB)."""

REQUIRE_REDIS = os.environ.get("CI") == "true" or os.environ.get("KIEBOT_REQUIRE_REDIS") == "1"
"""Under CI an unreachable Redis fails the tests instead of skipping them."""

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str | bytes):
        return False
    name = host.decode() if isinstance(host, bytes) else host
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class NetworkGuardError(RuntimeError):
    """A test tried to reach something other than this machine."""


@pytest.fixture(autouse=True, scope="session")
def _loopback_only() -> Iterator[None]:
    """Refuse every connection and name lookup that is not loopback (or a Unix socket)."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family == socket.AF_UNIX:
            return
        host = address[0] if isinstance(address, tuple) else address
        if not _is_loopback(host):
            raise NetworkGuardError(f"tests may only connect to loopback, not {host!r}")

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_loopback(host):
            raise NetworkGuardError(f"tests may only resolve loopback names, not {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        yield


@pytest.fixture(scope="session")
def pg_admin_dsn() -> str:
    """The PostgreSQL admin DSN; skips locally (fails under CI) when the server is down."""
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            pass
    except OSError as error:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required under CI but unreachable: {error}")
        pytest.skip(f"PostgreSQL unreachable on a local run (under CI=true this fails): {error}")
    return PG_ADMIN_DSN


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis server's URL; skips locally (fails under CI) when the server is down."""
    parts = urlsplit(REDIS_URL)
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), timeout=2):
            pass
    except OSError as error:
        if REQUIRE_REDIS:
            pytest.fail(f"Redis is required under CI but unreachable: {error}")
        pytest.skip(f"Redis unreachable on a local run (under CI=true this fails): {error}")
    return REDIS_URL
