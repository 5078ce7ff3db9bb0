"""Envelope fields that reach Codex's command line are validated at submit, naming the field; a NUL
byte is refused in any string; and the argv builder refuses rather than asserts."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.cli.main import main
from cockpit.core.codex.exec_command import ExecPlan, UnsafeCommand
from cockpit.core.envelope.model import EnvelopeError, envelope_from_mapping


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"model": "--yolo"}, "model: must be a model name"),
        ({"model": "-m"}, "model: must be a model name"),
        ({"model": "gpt 5"}, "model: must be a model name"),
        ({"model": "gpt\x1b[31m"}, "model: must be a model name"),
        ({"model": "x" * 129}, "model: must be a model name"),
        ({"goal": "do it\x00now"}, "goal: must not contain a NUL character"),
        ({"title": "t\x00"}, "title: must not contain a NUL character"),
        ({"acceptance_criteria": ["fine", "b\x00d"]}, "acceptance_criteria.1: must not contain a NUL"),
        ({"inputs": [{"path": "a.py", "summary": "s\x00"}]}, "inputs.0.summary: must not contain a NUL"),
        ({"inputs": ["--help"]}, "inputs.0.path: must not start with '-'"),
        ({"output": "out\x07.md"}, "output.path: must not contain control characters"),
        ({"output": "a" * 5000}, "output.path: is longer than 4096 characters"),
    ],
)
def test_refused_naming_the_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(EnvelopeError) as caught:
        envelope_from_mapping({"goal": "Do the job", **fields})
    assert str(caught.value).startswith(f"invalid envelope: {message}"), str(caught.value)


@pytest.mark.parametrize("model", ["gpt-5.1-codex", "o3", "openai/gpt-oss-20b", "llama3.1:8b", "mock"])
def test_ordinary_model_names_pass(model: str) -> None:
    assert envelope_from_mapping({"goal": "g", "model": model}).model == model


def test_submit_refuses_with_exit_2_and_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    envelope = tmp_path / "task.toml"
    envelope.write_text('goal = "Do the job"\nmodel = "--yolo"\n')
    assert main(["--repo", str(tmp_path), "submit", str(envelope)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cockpit: invalid envelope: model: must be a model name") and err.count("\n") == 1
    assert main(["--repo", str(tmp_path), "submit", "--goal", "a\x00b"]) == 2
    assert capsys.readouterr().err == "cockpit: invalid envelope: goal: must not contain a NUL character\n"


def test_the_argv_builder_refuses_instead_of_asserting(tmp_path: Path) -> None:
    plan = ExecPlan(codex=tmp_path / "codex", workdir=tmp_path, last_message=tmp_path / "m.md", prompt="p")
    for bad in (
        ExecPlan(**{**plan.__dict__, "model": "--yolo"}),
        ExecPlan(**{**plan.__dict__, "extra_config": ("--yolo",)}),
        ExecPlan(**{**plan.__dict__, "prompt": "a\x00b"}),
    ):
        with pytest.raises(UnsafeCommand):
            bad.argv()
    assert plan.argv()[-1] == "p"
