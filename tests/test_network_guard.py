import socket

import pytest

from tests.conftest import NetworkGuardError


def test_connecting_outside_loopback_is_refused():
    with socket.socket() as sock, pytest.raises(NetworkGuardError):
        sock.connect(("203.0.113.7", 443))


def test_resolving_a_public_name_is_refused():
    with pytest.raises(NetworkGuardError):
        socket.getaddrinfo("api.kie.ai", 443)


def test_loopback_stays_reachable():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
