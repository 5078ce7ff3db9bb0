"""Every shape a task is listed in, projected from one source: a task's
:class:`~cockpit.core.board.task_summary.TaskSummary`, or a :class:`Submission` (an envelope waiting in the
inbox that no supervisor has accepted yet).

Two shapes exist, and their keys are contracts scripts and orchestrators rely on (pinned by
``tests/unit/board/test_board_format.py`` and the MCP tests): the ``status --json`` row (:func:`status_row`)
and the MCP tools' row (:func:`tool_row`). The TUI lists the same summaries. A submission is read from
the inbox in one place (:func:`submissions`) and projected into both shapes by the same functions.
A cloud-lane task's row in either shape also has ``cloud``: its Codex Cloud task's ``task_id``, ``url``
and remote ``status`` (:func:`cloud_fields`; all None until a supervisor has submitted it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cockpit.core.board.task_summary import TaskSummary
from cockpit.core.records.basics import ACTIVE, Signals
from cockpit.core.vocabulary import CLOUD_LANE

if TYPE_CHECKING:
    from cockpit.core.board.blackboard import Blackboard, InboxItem

SUBMITTED = "submitted"  # the ``status --json`` state of a submission
INBOX_STATUS = "submitted (in the inbox)"  # the MCP tools' status of a submission
WAITING_IN_INBOX = "waiting in the inbox for a supervisor (the cockpit or `cockpit run`) to accept it"


@dataclass(frozen=True)
class Submission:
    """A ``submit`` request in the inbox: what is known of the task before a supervisor accepts it."""

    id: str
    lane: str | None
    title: str

    @classmethod
    def of(cls, item: InboxItem) -> Submission | None:
        """The submission an inbox item carries; None for other requests and malformed task ids."""
        from cockpit.core.board.blackboard import is_task_id

        task_id = item.data.get("task_id")
        if item.kind != "submit" or not is_task_id(task_id):
            return None
        envelope = item.data.get("envelope")
        envelope = envelope if isinstance(envelope, dict) else {}
        lane = envelope.get("lane")
        title = envelope.get("title") or str(envelope.get("goal", ""))[:80]
        return cls(id=str(task_id), lane=lane if isinstance(lane, str) else None, title=str(title))


def submissions(board: Blackboard) -> list[Submission]:
    """The submissions waiting in ``board``'s inbox, oldest first."""
    return [s for item in board.inbox() if (s := Submission.of(item)) is not None]


def _signals(task: TaskSummary | None) -> dict[str, Any]:
    sig = task.signals if task is not None else Signals()
    return {
        "exit_code": sig.exit_code,
        "turn_completed": sig.turn_completed,
        "last_message": sig.last_message,
    }


def cloud_fields(task: TaskSummary | Submission) -> dict[str, Any]:
    """What both rows add for a cloud-lane task (nothing for another lane): ``{"cloud": {"task_id",
    "url", "status"}}`` of the last attempt's Codex Cloud task, None where not known yet."""
    if task.lane != CLOUD_LANE:
        return {}
    brief = task.cloud if isinstance(task, TaskSummary) else None
    return {
        "cloud": {
            "task_id": brief.task_id if brief else None,
            "url": brief.url if brief else None,
            "status": brief.status if brief else None,
        }
    }


# ---- the ``status --json`` row -------------------------------------------------------------------


def status_row(task: TaskSummary | Submission) -> dict[str, Any]:
    """The ``status --json`` row: the headless contract scripts rely on."""
    if isinstance(task, Submission):
        return {
            "id": task.id,
            "lane": task.lane,
            "state": SUBMITTED,
            "title": task.title,
            "attempts": 0,
            "thread_id": None,
            "signals": _signals(None),
            "usage": dict.fromkeys(
                ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens"), 0
            ),
            "message": WAITING_IN_INBOX,
            **cloud_fields(task),
        }
    usage = task.usage
    return {
        "id": task.id,
        "lane": task.lane,
        "state": task.status.value,
        "title": task.title,
        "attempts": task.attempts,
        "thread_id": task.thread_id,
        "signals": _signals(task),
        "usage": {
            "input_tokens": usage.input_tokens,
            "cached_input_tokens": usage.cached_input_tokens,
            "output_tokens": usage.output_tokens,
            "reasoning_output_tokens": usage.reasoning_output_tokens,
        },
        "branch": task.branch,
        "message": task.message,
        "created_at": task.created_at.isoformat(),
        "updated_at": task.updated_at.isoformat(),
        **cloud_fields(task),
    }


# ---- the MCP tools' row ----------------------------------------------------------------------------


def tool_row(task: TaskSummary | Submission) -> dict[str, Any]:
    """One task as the MCP tools report it: status, whether it settled, attempts, the last attempt's
    three signals, tokens, and what it waits on."""
    if isinstance(task, Submission):
        return {
            "id": task.id,
            "lane": task.lane,
            "status": INBOX_STATUS,
            "settled": False,
            "title": task.title,
            "attempts": 0,
            "signals": _signals(None),
            "tokens": dict.fromkeys(("input", "cached_input", "output", "reasoning_output"), 0),
            "message": WAITING_IN_INBOX,
            "decision_id": None,
            "branch": None,
            "updated_at": None,
            **cloud_fields(task),
        }
    usage = task.usage
    return {
        "id": task.id,
        "lane": task.lane,
        "status": task.status.value,
        "settled": task.status not in ACTIVE,
        "title": task.title,
        "attempts": task.attempts,
        "signals": _signals(task),
        "tokens": {
            "input": usage.input_tokens,
            "cached_input": usage.cached_input_tokens,
            "output": usage.output_tokens,
            "reasoning_output": usage.reasoning_output_tokens,
        },
        "message": task.message,
        "decision_id": task.decision_id,
        "branch": task.branch,
        "updated_at": task.updated_at.isoformat(),
        **cloud_fields(task),
    }
