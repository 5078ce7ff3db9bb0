"""``[review]`` in the project config: on for the lanes with a task branch, caps in order, the reviewer's
model and effort checked, each mistake named by its field."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.core.config import ConfigError, ReviewConfig, load_config


def _load(tmp_path: Path, text: str) -> ReviewConfig:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path, user_path=tmp_path / "user.toml").review


def test_defaults(tmp_path: Path) -> None:
    review = _load(tmp_path, "")
    assert review.lanes == ["worktree", "mcp", "cloud"]
    assert (review.model, review.effort, review.soft_cap, review.hard_cap) == (None, None, 3, 10)
    assert review.evidence_timeout_s == 300 and review.orchestrator_may_label is False
    assert review.wants_review("worktree") and review.wants_review("cloud") and review.wants_review("mcp")
    assert not review.wants_review("local") and not review.wants_review("worktree", envelope_review=False)


def test_a_board_sets_its_review(tmp_path: Path) -> None:
    review = _load(
        tmp_path,
        '[review]\nlanes = ["cloud"]\nmodel = "claude-sonnet-4-5"\neffort = "high"\nsoft_cap = 2\n'
        "hard_cap = 4\nevidence_timeout_s = 60\norchestrator_may_label = true\n",
    )
    assert review.lanes == ["cloud"] and review.model == "claude-sonnet-4-5" and review.effort == "high"
    assert (review.soft_cap, review.hard_cap, review.evidence_timeout_s) == (2, 4, 60)
    assert review.orchestrator_may_label and not review.wants_review("worktree")
    assert _load(tmp_path, "[review]\nlanes = []\n").wants_review("worktree") is False


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ('lanes = ["local"]', "review.lanes", "has no task branch to review"),
        ('lanes = ["moon"]', "review.lanes.0", "Input should be"),
        ("soft_cap = 5\nhard_cap = 3", "review", "hard_cap must not be below soft_cap"),
        ("soft_cap = 0", "review.soft_cap", "greater than or equal to 1"),
        ("evidence_timeout_s = 0", "review.evidence_timeout_s", "greater than 0"),
        ("evidence_timeout_s = 3600", "review.evidence_timeout_s", "less than or equal to 1800"),
        ('effort = "extreme"', "review.effort", "Input should be"),
        ('model = "--yolo"', "review.model", "a model name is"),
        ("reviewer = 1", "review.reviewer", "unknown field"),
    ],
)
def test_mistakes_name_the_field(tmp_path: Path, text: str, field: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, f"[review]\n{text}\n")
    assert info.value.field == field and fragment in info.value.message
