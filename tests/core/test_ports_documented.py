import inspect
from typing import Protocol

import pytest

from kiebot_core.ports import delivery, generation, limits, runtime, stars, storage

PROTOCOLS = [
    obj
    for module in (delivery, generation, limits, runtime, stars, storage)
    for _, obj in inspect.getmembers(module, inspect.isclass)
    if obj.__module__ == module.__name__ and Protocol in getattr(obj, "__mro__", ())[1:]
]


def test_ports_are_found():
    assert len(PROTOCOLS) >= 12


@pytest.mark.parametrize("port", PROTOCOLS, ids=lambda p: p.__name__)
def test_every_port_member_states_its_contract(port):
    assert inspect.getdoc(port)
    members = [
        name
        for name, value in vars(port).items()
        if not name.startswith("_") or name in {"__call__", "__aenter__", "__aexit__"}
        if callable(value) or isinstance(value, property)
    ]
    assert members
    for name in members:
        value = vars(port)[name]
        target = value.fget if isinstance(value, property) else value
        assert inspect.getdoc(target), f"{port.__name__}.{name} has no docstring"
