"""Summaries share their equal parts (field sets, signals, an empty dict of extra usage fields) and
stay what they were: equal to an unshared copy, the same JSON line, copyable, and untouched by a later
change to the state they were built from."""

from __future__ import annotations

from cockpit.core.board.summary_pool import share
from cockpit.core.board.task_index.lines import parse_record
from cockpit.core.board.task_summary import TaskSummary
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.basics import Signals, TaskStatus, Usage
from cockpit.core.records.task import TaskState


def line(task_id: str, **fields: object) -> bytes:
    state = TaskState(id=task_id, lane="worktree", title=f"Task {task_id}", status=TaskStatus.SUCCEEDED)
    summary = TaskSummary.of(state).model_copy(update=fields)
    return summary.model_dump_json().encode() + b"\n"


def parsed(task_id: str, **fields: object) -> TaskSummary:
    record = parse_record(line(task_id, **fields))
    assert isinstance(record, TaskSummary)
    return record


def test_parsed_summaries_share_their_equal_parts_and_stay_equal_to_unshared_ones() -> None:
    ok = Signals(exit_code=0, turn_completed=True, last_message=True)
    lines = [line("task-0001", signals=ok, usage=Usage(input_tokens=5)), line("task-0002", signals=ok)]
    a, b = (parse_record(raw) for raw in lines)
    assert isinstance(a, TaskSummary) and isinstance(b, TaskSummary)
    assert a.__pydantic_fields_set__ is b.__pydantic_fields_set__
    assert a.signals is b.signals
    assert a.usage.__pydantic_fields_set__ is b.usage.__pydantic_fields_set__
    assert a.usage.__pydantic_extra__ is None
    for raw, summary in zip(lines, (a, b), strict=True):
        unshared = TaskSummary.model_validate_json(raw)
        assert summary == unshared and unshared == summary
        assert summary.model_dump_json() == unshared.model_dump_json()
        assert summary.model_fields_set == unshared.model_fields_set


def test_a_copy_of_a_shared_summary_changes_nothing_shared() -> None:
    a = parsed("task-0001")
    b = parsed("task-0002")
    copy = a.model_copy(update={"title": "renamed"})
    assert copy.title == "renamed" and a.title == "Task task-0001"
    assert copy.__pydantic_fields_set__ == b.__pydantic_fields_set__
    assert copy.__pydantic_fields_set__ is not a.__pydantic_fields_set__
    assert copy.usage.plus(Usage(input_tokens=1)).input_tokens == 1


def test_extra_usage_fields_are_kept() -> None:
    record = parse_record(line("task-0001").replace(b'"output_tokens"', b'"newer_tokens":3,"output_tokens"'))
    assert isinstance(record, TaskSummary)
    assert record.usage.__pydantic_extra__ == {"newer_tokens": 3}
    assert b'"newer_tokens":3' in record.model_dump_json().encode()


def test_signals_are_shared_by_value_never_as_the_state_object_that_changes() -> None:
    state = TaskState(id="task-0001", lane="local", title="T", status=TaskStatus.RUNNING)
    state.attempts.append(Attempt(n=1, kind="initial", deadline_s=60.0, signals=Signals(exit_code=3)))
    summary = share(TaskSummary.of(state))
    assert summary.signals == Signals(exit_code=3) and summary.signals is not state.attempts[0].signals
    state.attempts[0].signals.exit_code = 0  # the live state goes on
    assert summary.signals.exit_code == 3
    assert parsed("task-0002", signals=Signals(exit_code=3)).signals is summary.signals
