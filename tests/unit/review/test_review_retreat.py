"""Validation retreat: each way of weakening tests found in a real ``git diff`` (base → head), named with
file and line; moves and honest changes left alone; nothing at all when the envelope allows it."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.review.retreat import RETREAT_CRITERION, find_retreat, is_test_path, retreat_for


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _diff(tmp_path: Path, before: dict[str, str], after: dict[str, str | None]) -> str:
    """The patch of ``after`` (None: deleted) over ``before``, as ``diff_against`` writes it."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    for name, text in before.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(textwrap.dedent(text))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    for name, text in after.items():
        if text is None:
            (repo / name).unlink()
        else:
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_text(textwrap.dedent(text))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "head")
    return _git(repo, "diff", "--binary", "--no-color", "HEAD~1", "HEAD")


PY_TESTS = """\
    import pytest
    from calc import add, ratio


    def test_add():
        assert add(1, 2) == 3
        assert add(-1, 1) == 0


    def test_ratio():
        assert ratio(1, 3) == pytest.approx(0.3333, rel=1e-6)


    def test_exact():
        assert ratio(1, 2) == 0.5
"""


def _claims(patch: str) -> list[tuple[str, int | None, str]]:
    return [(c.file or "", c.line, c.claim) for c in find_retreat(patch)]


def test_a_deleted_test_file(tmp_path: Path) -> None:
    patch = _diff(
        tmp_path, {"tests/test_calc.py": PY_TESTS, "calc.py": "x = 1\n"}, {"tests/test_calc.py": None}
    )
    (challenge,) = find_retreat(patch)
    assert (
        challenge.file == "tests/test_calc.py" and challenge.claim == "test file tests/test_calc.py deleted"
    )
    assert challenge.kind == "validation_retreat" and challenge.source == "cockpit"
    assert (challenge.label, challenge.labelled_by) == ("VALID", "judge")
    assert challenge.evidence.criterion == RETREAT_CRITERION and not challenge.evidence.executable


def test_a_removed_test_function_names_it_and_not_its_asserts(tmp_path: Path) -> None:
    after = PY_TESTS.replace(
        "def test_add():\n        assert add(1, 2) == 3\n        assert add(-1, 1) == 0\n\n\n    ", ""
    )
    patch = _diff(tmp_path, {"test_calc.py": PY_TESTS}, {"test_calc.py": after})
    assert _claims(patch) == [
        ("test_calc.py", 5, "test test_add removed (line 5 of the base) and not added back")
    ]


def test_removed_asserts_are_counted_per_file(tmp_path: Path) -> None:
    after = PY_TESTS.replace("        assert add(-1, 1) == 0\n", "")
    patch = _diff(tmp_path, {"test_calc.py": PY_TESTS}, {"test_calc.py": after})
    ((file, line, claim),) = _claims(patch)
    assert (file, line) == ("test_calc.py", 7)
    assert (
        claim == "1 assertion removed and not replaced (first: `assert add(-1, 1) == 0`, line 7 of the base)"
    )


@pytest.mark.parametrize(
    "marker",
    [
        "@pytest.mark.skip(reason='flaky')",
        "@pytest.mark.skipif(True, reason='x')",
        "@pytest.mark.xfail",
        "@unittest.skip('later')",
    ],
)
def test_a_skip_added(tmp_path: Path, marker: str) -> None:
    after = PY_TESTS.replace("    def test_exact():", f"    {marker}\n    def test_exact():")
    patch = _diff(tmp_path, {"test_calc.py": PY_TESTS}, {"test_calc.py": after})
    assert _claims(patch) == [("test_calc.py", 14, f"test skipped or marked to fail: `{marker}` added")]


def test_a_loosened_tolerance(tmp_path: Path) -> None:
    after = PY_TESTS.replace("rel=1e-6", "rel=0.1")
    patch = _diff(tmp_path, {"test_calc.py": PY_TESTS}, {"test_calc.py": after})
    assert _claims(patch) == [("test_calc.py", 11, "tolerance loosened: rel=1e-06 → rel=0.1")]


def test_a_tightened_tolerance_is_fine(tmp_path: Path) -> None:
    after = PY_TESTS.replace("rel=1e-6", "rel=1e-9")
    assert find_retreat(_diff(tmp_path, {"test_calc.py": PY_TESTS}, {"test_calc.py": after})) == []


def test_places_made_fewer_and_a_delta_made_larger(tmp_path: Path) -> None:
    before = """\
        import unittest


        class T(unittest.TestCase):
            def test_a(self):
                self.assertAlmostEqual(f(), 0.25, places=7)

            def test_b(self):
                self.assertAlmostEqual(g(), 2.0, delta=0.001)
    """
    after = before.replace("places=7", "places=2").replace("delta=0.001", "delta=0.5")
    claims = [
        claim
        for _, _, claim in _claims(_diff(tmp_path, {"tests/test_t.py": before}, {"tests/test_t.py": after}))
    ]
    assert claims == [
        "tolerance loosened: places=7 → places=2",
        "tolerance loosened: delta=0.001 → delta=0.5",
    ]


def test_approx_added_around_an_exact_compare(tmp_path: Path) -> None:
    after = PY_TESTS.replace("assert ratio(1, 2) == 0.5", "assert ratio(1, 2) == pytest.approx(0.5, abs=0.1)")
    claims = _claims(_diff(tmp_path, {"test_calc.py": PY_TESTS}, {"test_calc.py": after}))
    assert [c for _, _, c in claims] == [
        "tolerance added: abs=0.1",
        "exact comparison made approximate: `assert ratio(1, 2) == pytest.approx(0.5, abs=0.1)`",
    ]
    assert {line for _, line, _ in claims} == {15}


JS_TESTS = """\
    const { add } = require('./calc');

    describe('add', () => {
      it('adds', () => {
        expect(add(1, 2)).toBe(3);
      });

      test('negatives', () => {
        expect(add(-1, 1)).toBe(0);
        expect(add(-1, -1)).toBe(-2);
      });
    });
"""


def test_javascript_test_removed_skipped_and_expect_removed(tmp_path: Path) -> None:
    after = (
        JS_TESTS.replace("      it('adds', () => {\n        expect(add(1, 2)).toBe(3);\n      });\n\n", "")
        .replace("test('negatives'", "test.skip('negatives'")
        .replace("        expect(add(-1, -1)).toBe(-2);\n", "")
    )
    claims = _claims(_diff(tmp_path, {"src/calc.test.js": JS_TESTS}, {"src/calc.test.js": after}))
    texts = [c for _, _, c in claims]
    assert "test adds removed (line 4 of the base) and not added back" in texts
    assert "test skipped or marked to fail: `test.skip('negatives', () => {` added" in texts
    assert any(
        t.startswith("1 assertion removed and not replaced (first: `expect(add(-1, -1)).toBe(-2);`")
        for t in texts
    )
    assert len(texts) == 3 and all(f == "src/calc.test.js" and line for f, line, _ in claims)


def test_moving_and_renaming_tests_is_not_retreat(tmp_path: Path) -> None:
    moved = PY_TESTS.replace("def test_ratio", "def test_ratio_moved_below").replace(
        "def test_exact", "def test_ratio():\n        pass\n\n\n    def test_exact"
    )
    split = {
        "tests/test_more.py": (
            "from calc import add\n\n\ndef test_add():\n"
            "    assert add(1, 2) == 3\n    assert add(-1, 1) == 0\n"
        )
    }
    after: dict[str, str | None] = {
        "test_calc.py": moved.replace(
            "def test_add():\n        assert add(1, 2) == 3\n        assert add(-1, 1) == 0\n\n\n    ", ""
        ),
        **split,
    }
    assert find_retreat(_diff(tmp_path, {"test_calc.py": PY_TESTS}, after)) == []


def test_an_assert_changed_in_place_and_code_outside_tests_are_left_alone(tmp_path: Path) -> None:
    after = PY_TESTS.replace("assert add(1, 2) == 3", "assert add(1, 2) == 3.0")
    code_before = "def f(x):\n    assert x > 0\n    return x\n"
    patch = _diff(
        tmp_path,
        {"test_calc.py": PY_TESTS, "calc.py": code_before},
        {"test_calc.py": after, "calc.py": "def f(x):\n    return x\n"},
    )
    assert find_retreat(patch) == []


def test_allowed_by_the_envelope(tmp_path: Path) -> None:
    patch = _diff(tmp_path, {"tests/test_calc.py": PY_TESTS}, {"tests/test_calc.py": None})
    assert find_retreat(patch, allowed=True) == []
    assert retreat_for(patch, envelope_from_mapping({"goal": "x", "allow_test_changes": True})) == []
    assert len(retreat_for(patch, envelope_from_mapping({"goal": "x"}))) == 1


def test_an_empty_or_binary_patch(tmp_path: Path) -> None:
    assert find_retreat("") == []
    repo_patch = _diff(tmp_path, {"tests/data.bin": "a"}, {"tests/data.bin": "\x00\x01binary"})
    assert find_retreat(repo_patch) == []


@pytest.mark.parametrize(
    ("path", "is_test"),
    [
        ("tests/test_x.py", True),
        ("test_x.py", True),
        ("pkg/x_test.py", True),
        ("conftest.py", True),
        ("web/__tests__/a.js", True),
        ("src/a.spec.ts", True),
        ("src/a.test.tsx", True),
        ("cmd/main_test.go", True),
        ("src/calc.py", False),
        ("src/latest.py", False),
        ("docs/testing.md", False),
    ],
)
def test_test_paths(path: str, is_test: bool) -> None:
    assert is_test_path(path) is is_test
