"""What the attempt runner (or, when the runner was lost, the supervisor) records in ``exit.json``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ExitInfo(BaseModel):
    """What the runner (or, if the runner was lost, the supervisor) recorded when the process ended."""

    model_config = ConfigDict(extra="allow")

    code: int | None = None
    signal: int | None = None
    timed_out: bool = False
    cancelled: bool = False
    chunked: bool = False
    watchdog: bool = False
    lost: bool = False
    started: float | None = None
    ended: float | None = None
    note: str | None = None
