"""The collector pause: the cyclic collector is off inside and as it was after, with or without ageing
the batch, and whether or not it was enabled to begin with."""

from __future__ import annotations

import gc

import pytest

from cockpit.core.collector import collector_paused


@pytest.mark.parametrize("age", [False, True])
def test_the_collector_is_off_inside_and_as_it_was_after(age: bool) -> None:
    assert gc.isenabled()
    with collector_paused(age=age):
        assert not gc.isenabled()
        batch = [{"n": n} for n in range(1000)]
    assert gc.isenabled() and len(batch) == 1000
    gc.disable()
    try:
        with collector_paused(age=age):
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_error_inside_restores_the_collector() -> None:
    with pytest.raises(RuntimeError), collector_paused(age=True):
        raise RuntimeError("boom")
    assert gc.isenabled()
