"""Task envelope: every format loads to the same model, invalid input names its field in one line,
paths stay inside the repository and off the secrets deny list."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.core.codex.exec_command import effort_args
from cockpit.core.envelope.formats import load_envelope
from cockpit.core.envelope.model import (
    DEFAULT_OUTPUT_PROTOCOL,
    Budget,
    Envelope,
    EnvelopeError,
    InputRef,
    OutputSpec,
    envelope_from_mapping,
    normalise_key,
    parse_budget_text,
    parse_duration,
    requested_escalations,
)
from cockpit.core.envelope.paths import check_paths, missing_inputs

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "envelopes"

FULL = Envelope(
    goal="Add a --json flag to cockpit status.",
    title="Status JSON",
    kind="code",
    acceptance_criteria=[
        "cockpit status --json prints one JSON object per task",
        "pytest tests/unit/test_status.py passes",
    ],
    inputs=[
        InputRef(path="cli/status.py", summary="the status command"),
        InputRef(path="core/state.py", summary="task state model"),
    ],
    allowed_tools=["shell", "apply_patch"],
    forbidden=["editing files outside cli/", "network access"],
    risk_level="medium",
    budget=Budget(tokens=50000, tool_calls=10, wall_time_s=1200, usd=0.5),
    checkpoint="notes in .notes/status.md after the flag parses",
    stop_conditions=["3 consecutive failures on the same step"],
    output=OutputSpec(path="reports/status-json.md", format="markdown"),
    lane="local",
    effort="high",
    model="gpt-5-codex",
)

LIGHT = Envelope(
    goal="Summarise the blackboard layout for the README.",
    inputs=[InputRef(path="core/blackboard.py", summary="layout and locking")],
    output=OutputSpec(path="docs/blackboard.md"),
    stop_conditions=["the layout is not documented in the code"],
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> EnvelopeError:
    with pytest.raises(EnvelopeError) as info:
        load_envelope(path)
    return info.value


# ------------------------------------------------------------------------------------------ formats


@pytest.mark.parametrize(
    "name", ["full.toml", "full.json", "full.yaml", "full_frontmatter.md", "template.md"]
)
def test_full_envelope_loads_identically_from_every_format(name: str) -> None:
    env = load_envelope(FIXTURES / name)
    assert env == FULL
    assert env.output_protocol == DEFAULT_OUTPUT_PROTOCOL
    assert not env.is_lightweight


@pytest.mark.parametrize("name", ["lightweight.md", "lightweight.toml"])
def test_lightweight_form_loads_as_the_same_model(name: str) -> None:
    env = load_envelope(FIXTURES / name)
    assert env == LIGHT
    assert env.is_lightweight
    assert env.risk_level == "low" and env.lane == "worktree" and env.sandbox == "workspace-write"
    assert env.budget.is_empty and env.acceptance_criteria == []


def test_markdown_front_matter_wins_over_sections_and_toml_front_matter_is_read() -> None:
    env = load_envelope(FIXTURES / "mixed.md")
    assert env.risk_level == "high"  # front matter says high, the section says low
    assert env.lane == "cloud"
    assert env.effort == "low"  # from the +++ TOML block
    assert env.inputs == [InputRef(path="core/blackboard.py", summary="layout and locking")]
    assert env.output == OutputSpec(path="docs/blackboard.md", format="markdown")


def test_yml_and_markdown_suffixes(tmp_path: Path) -> None:
    assert load_envelope(_write(tmp_path, "a.yml", "goal: Do it\n")).goal == "Do it"
    assert load_envelope(_write(tmp_path, "a.markdown", "## Goal\nDo it\n")).goal == "Do it"
    assert load_envelope(_write(tmp_path, "A.TOML", 'goal = "Do it"\n')).goal == "Do it"


def test_markdown_output_protocol_section_and_bare_output_path(tmp_path: Path) -> None:
    text = (
        "## Goal\nWrite the report.\n\n## Output\n`out/report.json`\n\n"
        "## Output Protocol\nFirst line COMPLETED: or FAILED:.\nThen details.\n"
    )
    env = load_envelope(_write(tmp_path, "e.md", text))
    assert env.output == OutputSpec(path="out/report.json", format="json")
    assert env.output_protocol == "First line COMPLETED: or FAILED:.\nThen details."


def test_markdown_ignores_headings_inside_code_fences_and_keeps_subheadings(tmp_path: Path) -> None:
    text = "## Goal\nDo it.\n\n## Checkpoint\n```\n## Not a section\n```\n### Detail\nmore\n"
    env = load_envelope(_write(tmp_path, "e.md", text))
    assert env.checkpoint is not None and "## Not a section" in env.checkpoint
    assert "### Detail" in env.checkpoint


def test_title_is_derived_from_the_goal() -> None:
    assert envelope_from_mapping({"goal": "  Fix the login bug  "}).title == "Fix the login bug"
    long_goal = "Refactor " + "the very long module name " * 10
    title = envelope_from_mapping({"goal": long_goal}).title
    assert title is not None and len(title) <= 60 and title.endswith("…")
    assert envelope_from_mapping({"goal": "first line\nsecond line"}).title == "first line"
    assert envelope_from_mapping({"goal": "x", "title": "Mine"}).title == "Mine"
    # A derived title is not "given": dropping unset fields and changing the goal derives a new one.
    data = envelope_from_mapping({"goal": "old goal"}).model_dump(mode="json", exclude_unset=True)
    assert data == {"goal": "old goal"}
    assert envelope_from_mapping({**data, "goal": "new goal"}).title == "new goal"


def test_key_spellings_are_normalised() -> None:
    assert normalise_key("Acceptance Criteria") == "acceptance_criteria"
    assert normalise_key(" allowed-tools ") == "allowed_tools"
    assert normalise_key("Risk  Level") == "risk_level"
    env = envelope_from_mapping(
        {"GOAL": "x", "Stop if": "3 failures", "Allowed-Tools": "shell", "RISK LEVEL": "High"}
    )
    assert env.stop_conditions == ["3 failures"]
    assert env.allowed_tools == ["shell"]
    assert env.risk_level == "high"


@pytest.mark.parametrize(
    ("raw", "path", "summary"),
    [
        ("src/a.py", "src/a.py", ""),
        ("src/a.py — the parser", "src/a.py", "the parser"),
        ("src/a.py: the parser", "src/a.py", "the parser"),
        ("src/a.py - the parser", "src/a.py", "the parser"),
        ("`src/my file.py` — with a space", "src/my file.py", "with a space"),
        ("src/some-name.py", "src/some-name.py", ""),
    ],
)
def test_input_string_forms(raw: str, path: str, summary: str) -> None:
    env = envelope_from_mapping({"goal": "x", "inputs": [raw]})
    assert env.inputs == [InputRef(path=path, summary=summary)]


def test_budget_forms() -> None:
    assert Budget.model_validate({"wall_time": "30m"}).wall_time_s == 1800
    assert Budget.model_validate({"wall_time": "90s"}).wall_time_s == 90
    assert Budget.model_validate({"Wall Time": "1h"}).wall_time_s == 3600
    assert Budget.model_validate({"tokens": "50k"}).tokens == 50000
    assert Budget.model_validate("max 10 tool calls, 50000 tokens, 20 min") == Budget(
        tokens=50000, tool_calls=10, wall_time_s=1200
    )
    assert parse_budget_text("Tool calls: 5; tokens: 1_000; wall time: 1h 30m; usd: 2") == {
        "tool_calls": 5.0,
        "tokens": 1000.0,
        "wall_time_s": 5400,
        "usd": 2.0,
    }
    assert parse_duration("1h30m") == 5400
    assert parse_duration("20 min") == 1200
    assert parse_duration(45) == 45
    for bad in ("soon", "0m", "-5s", "10 parsecs"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_json_dump_round_trips_through_the_loader(tmp_path: Path) -> None:
    data = FULL.model_dump(mode="json")
    path = _write(tmp_path, "envelope.json", json.dumps(data))
    assert load_envelope(path) == FULL
    assert envelope_from_mapping(FULL.to_json_dict()) == FULL


# ------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("invalid_missing_goal.toml", "invalid envelope: goal: field required"),
        ("invalid_empty_goal.json", "invalid envelope: goal: must not be empty"),
        ("invalid_negative_budget.toml", "invalid envelope: budget.tokens: must be a positive integer"),
        ("invalid_unknown_key.toml", "invalid envelope: budgt: unknown field"),
        ("invalid_unknown_section.md", "invalid envelope: acceptence_criteria: unknown field"),
        ("invalid_output_path.json", "invalid envelope: output.path: must not be empty"),
    ],
)
def test_invalid_fixtures_give_exact_one_line_errors(name: str, expected: str) -> None:
    err = _error(FIXTURES / name)
    assert str(err) == expected
    assert "\n" not in str(err)


@pytest.mark.parametrize(
    ("name", "field", "fragment"),
    [
        ("invalid_lane.yaml", "lane", "'local', 'worktree', 'cloud' or 'mcp'"),
        ("invalid_effort.toml", "effort", "'maximum'"),
        ("invalid_wrong_type.json", "network", "must be true or false"),
        ("invalid_malformed.toml", "(file)", "line 3"),
        ("invalid_malformed.json", "(file)", "line 4"),
        ("invalid_malformed.yaml", "(file)", "line 3"),
    ],
)
def test_invalid_fixtures_name_the_field(name: str, field: str, fragment: str) -> None:
    err = _error(FIXTURES / name)
    assert err.field == field
    assert fragment in err.message
    assert str(err).startswith(f"invalid envelope: {field}: ")
    assert "\n" not in str(err)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"goal": "x", "budget": {"tokens": 0}}, "budget.tokens"),
        ({"goal": "x", "budget": {"tool_calls": -3}}, "budget.tool_calls"),
        ({"goal": "x", "budget": {"tokens": "lots"}}, "budget.tokens"),
        ({"goal": "x", "budget": {"tokens": True}}, "budget.tokens"),
        ({"goal": "x", "budget": {"tokens": 1.5}}, "budget.tokens"),
        ({"goal": "x", "budget": {"usd": -1}}, "budget.usd"),
        ({"goal": "x", "budget": {"wall_time": "soon"}}, "budget.wall_time"),
        ({"goal": "x", "budget": {"wall_time": "5m", "wall_time_s": 300}}, "budget.wall_time"),
        ({"goal": "x", "budget": {"tokenz": 5}}, "budget.tokenz"),
        ({"goal": "x", "budget": "max 3 iterations"}, "budget"),
        ({"goal": "x", "budget": 5}, "budget"),
        ({"goal": 42}, "goal"),
        ({"goal": "x", "inputs": [{"path": "a.py", "sumary": "typo"}]}, "inputs.0.sumary"),
        ({"goal": "x", "inputs": ["a.py", {"path": "  "}]}, "inputs.1.path"),
        ({"goal": "x", "acceptance_criteria": ["ok", 3]}, "acceptance_criteria.1"),
        ({"goal": "x", "risk_level": "extreme"}, "risk_level"),
        ({"goal": "x", "sandbox": "none"}, "sandbox"),
        ({"goal": "x", "output": {"format": "json"}}, "output.path"),
        ({"goal": "x", "stop_if": "a", "stop_conditions": ["b"]}, "stop_conditions"),
        ({"goal": "x", "Goal": "y"}, "goal"),
        ({"goal": "x", "output_protocol": " "}, "output_protocol"),
        ({"goal": "x", "inputs": [5]}, "inputs.0"),
        ({"goal": "x", "inputs": 5}, "inputs"),
        ({"goal": "x", "output": 5}, "output"),
        ({"goal": "x", "budget": [1]}, "budget"),
        ({"goal": "x", "checkpoint": 3}, "checkpoint"),
    ],
)
def test_mapping_errors_name_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(EnvelopeError) as info:
        envelope_from_mapping(data)
    assert info.value.field == field
    assert str(info.value) == f"invalid envelope: {field}: {info.value.message}"
    assert "\n" not in str(info.value)


def test_positive_integer_message() -> None:
    with pytest.raises(EnvelopeError) as info:
        envelope_from_mapping({"goal": "x", "budget": {"tokens": -1}})
    assert str(info.value) == "invalid envelope: budget.tokens: must be a positive integer"


def test_file_level_errors(tmp_path: Path) -> None:
    assert _error(tmp_path / "absent.toml").field == "(file)"
    assert _error(_write(tmp_path, "e.txt", "goal = 'x'")).field == "(file)"
    assert _error(_write(tmp_path, "list.json", "[1, 2]")).field == "(file)"
    assert _error(_write(tmp_path, "empty.yaml", "")).field == "(file)"
    assert _error(_write(tmp_path, "nothing.md", "just prose\n")).field == "(file)"
    assert _error(_write(tmp_path, "open.md", "---\ngoal: x\n")).field == "(file)"
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"goal = '\xff\xfe'\n")
    assert _error(binary).field == "(file)"


def test_malformed_toml_and_yaml_front_matter_report_file_lines(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, "t.md", '+++\ngoal = "x"\nlane = = 1\n+++\n'))
    assert err.field == "(file)" and "line 3" in err.message
    err = _error(_write(tmp_path, "y.md", "---\ngoal: x\ninputs: [a\nlane: local\n---\n"))
    assert err.field == "(file)" and "line 4" in err.message


def test_duplicate_markdown_section_is_refused(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, "d.md", "## Goal\na\n\n## Goal\nb\n"))
    assert err.field == "goal" and "line 4" in err.message


def test_error_pickles_with_its_fields() -> None:
    import pickle

    err = pickle.loads(pickle.dumps(EnvelopeError("budget.tokens", "must be a positive integer")))
    assert (err.field, err.message) == ("budget.tokens", "must be a positive integer")


# ------------------------------------------------------------------------------------------- paths


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("PRIVATE KEY\n")
    monkeypatch.setenv("HOME", str(home))
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.py").write_text("print('a')\n")
    (root / ".git").mkdir()
    return root


def _env(*inputs: str, output: str | None = None) -> Envelope:
    data: dict[str, Any] = {"goal": "x", "inputs": list(inputs)}
    if output is not None:
        data["output"] = output
    return envelope_from_mapping(data)


def _refused(env: Envelope, root: Path) -> EnvelopeError:
    with pytest.raises(EnvelopeError) as info:
        check_paths(env, root)
    return info.value


def test_check_paths_returns_a_copy_with_absolute_resolved_paths(repo: Path) -> None:
    env = _env("src/a.py — module a", "src/../src/new.py", output="reports/out.md")
    checked = check_paths(env, repo)
    real = repo.resolve()
    assert checked.inputs == [
        InputRef(path=str(real / "src" / "a.py"), summary="module a"),
        InputRef(path=str(real / "src" / "new.py"), summary=""),
    ]
    assert checked.output == OutputSpec(path=str(real / "reports" / "out.md"), format="markdown")
    assert env.inputs[0].path == "src/a.py"  # the original is untouched
    assert check_paths(checked, repo) == checked  # idempotent
    assert missing_inputs(env, repo) == ["src/../src/new.py"]


def test_absolute_path_inside_the_repo_is_allowed(repo: Path) -> None:
    checked = check_paths(_env(str(repo / "src" / "a.py")), repo)
    assert checked.inputs[0].path == str(repo.resolve() / "src" / "a.py")


@pytest.mark.parametrize("raw", ["../x", "/etc/passwd", "src/../../outside.txt", "~/notes.txt"])
def test_paths_outside_the_repo_are_refused(repo: Path, raw: str) -> None:
    err = _refused(_env("src/a.py", raw), repo)
    assert err.field == "inputs.1.path"
    assert "outside the repository" in err.message


def test_symlink_inside_the_repo_pointing_outside_is_refused(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "data.txt").write_text("x\n")
    (repo / "link").symlink_to(outside)
    err = _refused(_env("link/data.txt"), repo)
    assert err.field == "inputs.0.path" and "outside the repository" in err.message
    err = _refused(_env(output="link/report.md"), repo)
    assert err.field == "output.path" and "outside the repository" in err.message


@pytest.mark.parametrize(
    "raw",
    [
        ".env",
        "config/prod.env",
        ".env.local",
        "credentials.json",
        "deploy/Credentials.YAML",
        "secrets.toml",
        "~/.ssh/id_ed25519",
        "~/.aws/credentials",
        "~/.gnupg",
        "~/.config/gh/hosts.yml",
        ".aws/config",
        "tools/.ssh/known_hosts",
    ],
)
def test_deny_listed_paths_are_refused(repo: Path, raw: str) -> None:
    err = _refused(_env(raw), repo)
    assert err.field == "inputs.0.path"
    assert "on the deny list (secrets)" in err.message
    assert str(err).startswith("invalid envelope: inputs.0.path: on the deny list (secrets)")


def test_symlink_to_a_secret_is_refused(repo: Path) -> None:
    (repo / ".env").write_text("TOKEN=abc\n")
    (repo / "harmless.txt").symlink_to(repo / ".env")
    err = _refused(_env("harmless.txt"), repo)
    assert "deny list" in err.message


def test_deny_listed_output_is_refused(repo: Path) -> None:
    err = _refused(_env(output="out/secrets.json"), repo)
    assert err.field == "output.path" and "deny list" in err.message


@pytest.mark.parametrize("raw", [".git/hooks/pre-commit", ".cockpit/tasks/x/state.json", ".", ".git"])
def test_output_may_not_land_in_git_or_the_blackboard(repo: Path, raw: str) -> None:
    err = _refused(_env(output=raw), repo)
    assert err.field == "output.path"


def test_inputs_need_not_exist(repo: Path) -> None:
    env = _env("src/not_yet.py — to be created")
    assert check_paths(env, repo).inputs[0].path.endswith("not_yet.py")
    assert missing_inputs(env, repo) == ["src/not_yet.py"]


# ------------------------------------------------------------------------------- dispatch helpers


def test_requested_escalations() -> None:
    assert requested_escalations(envelope_from_mapping({"goal": "x"})) == []
    env = envelope_from_mapping({"goal": "x", "network": True, "sandbox": "danger-full-access"})
    assert requested_escalations(env) == ["network access", "danger-full-access sandbox"]
    assert requested_escalations(envelope_from_mapping({"goal": "x", "network": "yes"})) == ["network access"]


def test_effort_args() -> None:
    assert effort_args(None) == []
    assert effort_args("high") == ["-c", 'model_reasoning_effort="high"']
    assert effort_args("none") == ["-c", 'model_reasoning_effort="none"']
    with pytest.raises(EnvelopeError) as info:
        effort_args("ultra")
    assert info.value.field == "effort"


def test_is_lightweight_ignores_cockpit_fields() -> None:
    assert envelope_from_mapping(
        {"goal": "x", "lane": "local", "effort": "low", "output": "o.md"}
    ).is_lightweight
    assert not envelope_from_mapping({"goal": "x", "acceptance_criteria": ["ok"]}).is_lightweight
    assert not envelope_from_mapping({"goal": "x", "risk_level": "medium"}).is_lightweight
    assert not envelope_from_mapping({"goal": "x", "budget": "5 tool calls"}).is_lightweight
    light = load_envelope(FIXTURES / "lightweight.md")
    assert envelope_from_mapping(light.to_json_dict()).is_lightweight  # survives the blackboard
    assert not envelope_from_mapping(FULL.to_json_dict()).is_lightweight


def test_assignment_is_validated() -> None:
    env = envelope_from_mapping({"goal": "x"})
    with pytest.raises(ValueError):
        env.lane = "space"  # type: ignore[assignment]


# ---------------------------------------------------------------------------------------- property


def _toml_string(text: str) -> str:
    """A TOML basic string for ``text`` (JSON escapes are valid TOML except for DEL)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


# (a NUL byte is refused in any field)
_goals = st.text(min_size=1, max_size=200).filter(lambda s: s.strip() != "" and "\x00" not in s)


@settings(max_examples=150, deadline=None)
@given(goal=_goals)
def test_any_goal_round_trips_through_toml_json_and_yaml(goal: str, tmp_path_factory: Any) -> None:
    directory = tmp_path_factory.mktemp("rt")
    toml_path = directory / "e.toml"
    toml_path.write_text(f"goal = {_toml_string(goal)}\n", encoding="utf-8")
    json_path = directory / "e.json"
    json_path.write_text(json.dumps({"goal": goal}), encoding="utf-8")
    yaml_path = directory / "e.yaml"
    yaml_path.write_text(yaml.safe_dump({"goal": goal}, allow_unicode=False), encoding="utf-8")
    expected = goal.strip()
    for path in (toml_path, json_path, yaml_path):
        env = load_envelope(path)
        assert env.goal == expected
        assert env.title is not None and "\n" not in env.title
        # What the blackboard stores reads back to the same envelope.
        assert envelope_from_mapping(json.loads(json.dumps(env.to_json_dict()))) == env


@settings(max_examples=100, deadline=None)
@given(
    tokens=st.integers(min_value=1, max_value=10**9),
    calls=st.integers(min_value=1, max_value=10**4),
    minutes=st.integers(min_value=1, max_value=10**4),
)
def test_budget_prose_matches_the_structured_form(tokens: int, calls: int, minutes: int) -> None:
    prose = f"max {calls} tool calls, {tokens:,} tokens, {minutes} min"
    assert Budget.model_validate(prose) == Budget(tokens=tokens, tool_calls=calls, wall_time_s=minutes * 60)


def test_real_file_paths_only(tmp_path: Path) -> None:
    # Paths given as PurePath objects are accepted as strings.
    env = envelope_from_mapping({"goal": "x", "inputs": [tmp_path / "a.py"], "output": tmp_path / "o.md"})
    assert env.inputs[0].path == os.fspath(tmp_path / "a.py")
    assert env.output is not None and env.output.path == os.fspath(tmp_path / "o.md")


def test_review_flags_default_on_and_off_and_read_every_spelling(tmp_path: Path) -> None:
    env = envelope_from_mapping({"goal": "x"})
    assert env.review is True and env.allow_test_changes is False
    for raw, expected in (
        (True, True),
        ("yes", True),
        ("On", True),
        (1, True),
        ("false", False),
        (0, False),
    ):
        flags = envelope_from_mapping({"goal": "x", "review": raw, "Allow Test Changes": raw})
        assert (flags.review, flags.allow_test_changes) == (expected, expected)
    toml = _write(tmp_path, "e.toml", 'goal = "x"\nreview = false\nallow_test_changes = true\n')
    loaded = load_envelope(toml)
    assert (loaded.review, loaded.allow_test_changes) == (False, True)
    assert envelope_from_mapping(loaded.to_json_dict()) == loaded


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("review", "sometimes"),
        ("review", 2),
        ("allow_test_changes", ["yes"]),
        ("allow_test_changes", "maybe"),
    ],
)
def test_review_flags_refuse_anything_but_true_or_false(field: str, value: Any) -> None:
    with pytest.raises(EnvelopeError) as info:
        envelope_from_mapping({"goal": "x", field: value})
    assert info.value.field == field and info.value.message.startswith("must be true or false")
