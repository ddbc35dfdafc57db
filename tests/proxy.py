"""A TCP proxy a test owns between the code and a real server (PostgreSQL): outages are made
by cutting it, never by stopping the shared server."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import attrs


@attrs.define
class TcpProxy:
    """Forwards loopback connections to ``target_port`` while it is up."""

    target_host: str
    target_port: int
    port: int = 0
    up: bool = True
    _links: set[asyncio.StreamWriter] = attrs.field(factory=set)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Join a client to the target (or drop it at once while the proxy is cut)."""
        if not self.up:
            writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            writer.close()
            return
        self._links |= {writer, upstream_writer}
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )
        self._links -= {writer, upstream_writer}

    def cut(self) -> None:
        """An outage: every open connection drops and new ones are refused."""
        self.up = False
        for link in list(self._links):
            link.close()

    def restore(self) -> None:
        """The server is reachable again."""
        self.up = True


@asynccontextmanager
async def tcp_proxy(target_host: str, target_port: int) -> AsyncIterator[TcpProxy]:
    """A proxy on a free loopback port for the block."""
    proxy = TcpProxy(target_host, target_port)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    proxy.port = server.sockets[0].getsockname()[1]
    try:
        yield proxy
    finally:
        proxy.cut()
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def proxied(url: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    """A proxy in front of the server of ``url`` (``scheme://[user@]host:port/...``) and the
    same URL through it."""
    parts = urlsplit(url)
    async with tcp_proxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        user = f"{parts.username}@" if parts.username else ""
        yield proxy, urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))
