"""The cyclic garbage collector paused while a bulk of acyclic objects is built (events parsed from a
long file, the records of a large journal), so that it does not scan them again and again as they grow."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused(*, age: bool = False) -> Iterator[None]:
    """Pause the cyclic collector while a bulk of objects is built (and leave it as it was after).

    The objects are acyclic trees freed by reference counting. Left to the collector, a batch of hundreds
    of thousands of them is scanned again and again while it grows (costing more than the parsing). With
    ``age`` the batch is afterwards moved to the oldest generation in O(1) (freeze + unfreeze, skipped
    when someone else holds frozen objects), so that no young collection walks it when it leaves the
    young generation either: for bulk reads only, so that a process polling small increments keeps the
    collector's normal rhythm.
    """
    was_enabled = gc.isenabled()
    if was_enabled:
        gc.disable()
    try:
        yield
    finally:
        if age and gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()
