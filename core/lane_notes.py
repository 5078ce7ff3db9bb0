"""What a lane that is not built yet says: its pane shows it, and its tasks wait with it. Kept apart
from the lane adapters (:mod:`cockpit.core.lanes`), so that listing the lanes loads none of them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

UNBUILT: Final[Mapping[str, str]] = {
    "cloud": "the cloud lane is not built yet; tasks sent to it wait here",
}
