"""Validation retreat: a change that passes by weakening its tests rather than by fixing the code.

:func:`find_retreat` reads a task's diff (``diff.patch``: base → head) and returns one VALID
``validation_retreat`` challenge (``source="cockpit"``, labelled by the judge) per finding, naming the
file and the line (in the head version; a removed line is placed where it was removed, its base line
in the claim):

* a **test file deleted** (``test_*.py``, ``*_test.py``, ``conftest.py``, anything under ``tests/``,
  ``test/``, ``__tests__/``, ``*.test.js``/``*.spec.ts`` and the like, ``*_test.go``);
* a **test removed** — ``def test_…`` / ``class Test…`` (Python), ``it(…)`` / ``test(…)`` (JavaScript and
  TypeScript), ``func Test…`` (Go) — and not added back anywhere in the diff (a moved or renamed-in-place
  test is not a removal);
* **assertions removed** from a test file and not replaced (``assert``, ``self.assert…``,
  ``assert_…(``, ``pytest.raises``, ``expect(``, ``assert.…(``, ``t.Error``/``t.Fatal``), counted per
  file: more removed than added (those of a test removed whole are not counted again);
* a **skip added**: ``@pytest.mark.skip``/``skipif``/``xfail``, ``pytest.skip(``/``xfail(``,
  ``@unittest.skip…``/``expectedFailure``, ``.skip(`` / ``xit(`` / ``xtest(`` / ``xdescribe(``, ``t.Skip``;
* a **tolerance loosened** in a test file, a line compared with the line it replaced (the most
  similar removed line of its hunk): ``rel=``, ``abs=``, ``atol=``, ``rtol=``, ``delta=``, ``tol=``,
  ``eps=`` made larger, ``places=`` made smaller, or one added to a comparison that had none;
* an **exact comparison made approximate**, likewise: ``approx(``, ``assertAlmostEqual``,
  ``allclose``, ``toBeCloseTo`` where the line it replaced compared exactly (``==``, ``assertEqual``,
  ``toBe``/``toEqual``).

Nothing is found when the envelope sets ``allow_test_changes`` (:func:`retreat_for`). A heuristic over
the diff's text, by design on the side of naming too much: each finding goes back to Codex with the
file and line, and a human can relabel one.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from cockpit.core.diff_parse import parse_patch
from cockpit.core.records.review import Challenge, Evidence
from cockpit.core.text import cut

if TYPE_CHECKING:
    from cockpit.core.envelope.model import Envelope

__all__ = ["RETREAT_CRITERION", "find_retreat", "is_test_path", "retreat_for"]

RETREAT_CRITERION: Final = (
    "Tests may not be weakened to make a change pass: this task's envelope does not allow test changes "
    "(allow_test_changes = false)."
)
_REASON: Final = "the diff weakens the tests (validation retreat): found by the cockpit in the diff"
_SHOWN: Final = 100  # characters of a code line quoted in a claim

_TEST_PATH: Final = re.compile(
    r"""(?:^|/)(?:tests?|__tests__|specs?|testing)/
      | (?:^|/)test_[^/]*\.py$ | _tests?\.py$ | (?:^|/)conftest\.py$
      | \.(?:test|spec)\.[cm]?[jt]sx?$
      | _test\.go$ | _spec\.rb$ | Tests?\.(?:java|kt|cs)$""",
    re.X,
)
_PY: Final = re.compile(r"\.pyi?$")
_JS: Final = re.compile(r"\.[cm]?[jt]sx?$")
_GO: Final = re.compile(r"\.go$")


def is_test_path(path: str) -> bool:
    """Whether ``path`` (relative, ``/``-separated) names a test file by the usual conventions."""
    return _TEST_PATH.search(path) is not None


# What each language's test definitions, assertions and skips look like.
_PY_TEST: Final = re.compile(r"^(\s*)(?:async\s+)?def\s+(test\w*)\s*\(|^(\s*)class\s+(Test\w*)\b")
_JS_TEST: Final = re.compile(
    r"""^(\s*)x?(?:it|test)(?:\.(?:only|skip|todo|concurrent)|\.each\b[^(]*)?\s*\(\s*(['"`])(.*?)\2"""
)
_GO_TEST: Final = re.compile(r"^(\s*)func\s+(Test\w+)\s*\(")
_PY_ASSERT: Final = re.compile(r"^\s*assert\b|\bself\.assert\w*\s*\(|\bassert_\w+\s*\(|\bpytest\.raises\s*\(")
_JS_ASSERT: Final = re.compile(r"\bexpect\s*\(|\bassert(?:\.\w+)?\s*\(")
_GO_ASSERT: Final = re.compile(
    r"\bt\.(?:Error|Errorf|Fatal|Fatalf|Fail|FailNow)\b|\b(?:assert|require)\.\w+\s*\("
)
_PY_SKIP: Final = re.compile(
    r"@pytest\.mark\.(?:skip|skipif|xfail)\b|\bpytest\.(?:skip|xfail)\s*\(|@unittest\.(?:skip\w*|expectedFailure)\b"
    r"|\bself\.skipTest\s*\("
)
_JS_SKIP: Final = re.compile(
    r"\b(?:it|test|describe|context|suite)\.skip\s*\(|(?:^|[^\w.])x(?:it|test|describe)\s*\("
)
_GO_SKIP: Final = re.compile(r"\bt\.(?:Skip|Skipf|SkipNow)\s*\(")
_TOLERANCE: Final = re.compile(
    r"\b(rel|abs|atol|rtol|delta|tol|tolerance|eps|epsilon|places)\s*=\s*([0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9]+)?)"
)
_HUNK: Final = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass
class _Line:
    text: str  # without the leading +/-
    old: int  # line in the base (for a removed line) or where it would be
    new: int  # line in the head (for an added line) or where a removed line was removed


@dataclass
class _Block:
    """A run of removed and added lines between context lines."""

    removed: list[_Line] = field(default_factory=list)
    added: list[_Line] = field(default_factory=list)


@dataclass
class _File:
    path: str
    deleted: bool = False
    binary: bool = False
    blocks: list[_Block] = field(default_factory=list)

    @property
    def removed(self) -> list[_Line]:
        return [line for block in self.blocks for line in block.removed]

    @property
    def added(self) -> list[_Line]:
        return [line for block in self.blocks for line in block.added]


def _files(patch: str) -> list[_File]:
    out: list[_File] = []
    for diff in parse_patch(patch):
        f = _File(path=diff.path, binary=diff.binary)
        old = new = 0
        block: _Block | None = None
        in_hunk = False
        for raw in diff.lines:
            if not in_hunk and raw.startswith("deleted file mode"):
                f.deleted = True
            match = _HUNK.match(raw)
            if match:
                in_hunk = True
                old, new = int(match.group(1)), int(match.group(2))
                block = None
                continue
            if not in_hunk:
                continue
            if raw.startswith("-"):
                if block is None:
                    block = _Block()
                    f.blocks.append(block)
                block.removed.append(_Line(raw[1:], old, new))
                old += 1
            elif raw.startswith("+"):
                if block is None:
                    block = _Block()
                    f.blocks.append(block)
                block.added.append(_Line(raw[1:], old, new))
                new += 1
            elif raw.startswith("\\"):
                continue  # "\ No newline at end of file"
            else:
                block = None
                old += 1
                new += 1
        out.append(f)
    return out


def _quote(text: str) -> str:
    return "`" + cut(" ".join(text.split()), _SHOWN) + "`"


def _challenge(n: int, path: str, line: int | None, claim: str) -> Challenge:
    return Challenge(
        id=f"retreat-{n}",
        kind="validation_retreat",
        claim=claim,
        file=path,
        line=line if line and line > 0 else None,
        evidence=Evidence(criterion=RETREAT_CRITERION),
        source="cockpit",
    ).labelled("VALID", "judge", _REASON)


def _language(path: str) -> str | None:
    if _PY.search(path):
        return "py"
    if _JS.search(path):
        return "js"
    if _GO.search(path):
        return "go"
    return None


def _test_name(lang: str, text: str) -> tuple[str, int] | None:
    """The test a line defines (its name and indentation), if it defines one."""
    if lang == "py":
        m = _PY_TEST.match(text)
        if m:
            return (m.group(2) or m.group(4)), len(m.group(1) or m.group(3) or "")
    elif lang == "js":
        m = _JS_TEST.match(text)
        if m:
            return m.group(3), len(m.group(1))
    elif lang == "go":
        m = _GO_TEST.match(text)
        if m:
            return m.group(2), len(m.group(1))
    return None


_ASSERTS: Final = {"py": _PY_ASSERT, "js": _JS_ASSERT, "go": _GO_ASSERT}
_SKIPS: Final = {"py": _PY_SKIP, "js": _JS_SKIP, "go": _GO_SKIP}


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def _tolerances(lines: list[_Line]) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    for line in lines:
        for name, number in _TOLERANCE.findall(line.text):
            try:
                found.setdefault(name, []).append(float(number.replace("_", "")))
            except ValueError:
                continue
    return found


def find_retreat(patch: str, *, allowed: bool = False) -> list[Challenge]:
    """Validation-retreat challenges in ``patch`` (see the module docstring); none when ``allowed``."""
    if allowed or not patch.strip():
        return []
    files = _files(patch)
    added_tests: set[str] = set()
    added_text: Counter[str] = Counter()
    removed_text: Counter[str] = Counter()
    for f in files:
        lang = _language(f.path)
        for line in f.added:
            added_text[line.text.strip()] += 1
            name = _test_name(lang, line.text) if lang else None
            if name:
                added_tests.add(name[0])
        for line in f.removed:
            removed_text[line.text.strip()] += 1
    found: list[tuple[str, int | None, str]] = []
    for f in files:
        if f.binary:
            continue
        test_file = is_test_path(f.path)
        if f.deleted:
            if test_file:
                found.append((f.path, None, f"test file {f.path} deleted"))
            continue
        lang = _language(f.path)
        if lang is None:
            continue
        found += _removed_tests_and_asserts(f, lang, test_file, added_tests, added_text)
        if lang == "py" or test_file:
            found += _skips_added(f, lang, removed_text)
        if test_file:
            found += _loosened(f, removed_text)
    return [_challenge(i, path, line, claim) for i, (path, line, claim) in enumerate(found, start=1)]


def _removed_tests_and_asserts(
    f: _File, lang: str, test_file: bool, added_tests: set[str], added_text: Counter[str]
) -> list[tuple[str, int | None, str]]:
    found: list[tuple[str, int | None, str]] = []
    assert_re = _ASSERTS[lang]
    loose_removed: list[_Line] = []
    for block in f.blocks:
        inside: int | None = None  # the indentation of a test removed whole, while its body follows
        for line in block.removed:
            if inside is not None:
                if (
                    not line.text.strip()
                    or _indent(line.text) > inside
                    or line.text.strip().startswith(("})", "}"))
                ):
                    continue
                inside = None
            name = _test_name(lang, line.text)
            if name is not None and (lang == "py" or test_file):
                if name[0] not in added_tests:
                    found.append(
                        (
                            f.path,
                            line.new,
                            f"test {name[0]} removed (line {line.old} of the base) and not added back",
                        )
                    )
                    inside = name[1]
                continue
            if test_file and assert_re.search(line.text):
                loose_removed.append(line)
    if test_file:
        added_asserts = [line for line in f.added if assert_re.search(line.text)]
        pool = Counter(line.text.strip() for line in added_asserts)
        unmatched: list[_Line] = []
        for line in loose_removed:
            key = line.text.strip()
            if pool[key] > 0:
                pool[key] -= 1
            elif added_text[key] == 0:
                unmatched.append(line)
        net = len(loose_removed) - len(added_asserts)
        if net > 0 and unmatched:
            first = unmatched[0]
            count = min(net, len(unmatched))
            found.append(
                (
                    f.path,
                    first.new,
                    f"{count} assertion{'s' if count != 1 else ''} removed and not replaced "
                    f"(first: {_quote(first.text)}, line {first.old} of the base)",
                )
            )
    return found


def _skips_added(f: _File, lang: str, removed_text: Counter[str]) -> list[tuple[str, int | None, str]]:
    found: list[tuple[str, int | None, str]] = []
    skip_re = _SKIPS[lang]
    seen = Counter(removed_text)
    for line in f.added:
        if not skip_re.search(line.text):
            continue
        key = line.text.strip()
        if seen[key] > 0:  # moved, not added
            seen[key] -= 1
            continue
        found.append((f.path, line.new, f"test skipped or marked to fail: {_quote(line.text)} added"))
    return found


def _counterpart(line: _Line, removed: list[_Line]) -> _Line | None:
    """The removed line of the same block that ``line`` most likely replaced (numbers and tolerance
    arguments aside), if one is close enough."""

    def bare(text: str) -> str:
        text = _TOLERANCE.sub("", text)
        text = re.sub(r"(?:pytest\.)?approx\(|AlmostEqual|CloseTo|\d+(?:\.\d+)?(?:e[+-]?\d+)?", "", text)
        return " ".join(text.split())

    target = bare(line.text)
    best: tuple[float, _Line | None] = (0.0, None)
    for old in removed:
        ratio = difflib.SequenceMatcher(None, target, bare(old.text)).ratio()
        if ratio > best[0]:
            best = (ratio, old)
    return best[1] if best[0] >= 0.6 else None


_APPROX: Final = re.compile(r"\bapprox\(|assertAlmostEqual|\bassert_allclose\(|\ballclose\(|toBeCloseTo\(")
_EXACT: Final = re.compile(r"==|assertEqual\(|\.to(?:Be|Equal|StrictEqual)\(")


def _loosened(f: _File, removed_text: Counter[str]) -> list[tuple[str, int | None, str]]:
    found: list[tuple[str, int | None, str]] = []
    for block in f.blocks:
        if not block.removed or not block.added:
            continue
        for line in block.added:
            if removed_text[line.text.strip()] > 0:
                continue  # moved as it was
            new = _tolerances([line])
            made_approx = _APPROX.search(line.text) is not None
            if not new and not made_approx:
                continue
            old_line = _counterpart(line, block.removed)
            if old_line is None:
                continue
            old = _tolerances([old_line])
            for name, values in new.items():
                if name not in old:
                    if _EXACT.search(old_line.text) or _APPROX.search(old_line.text):
                        found.append((f.path, line.new, f"tolerance added: {name}={_fmt(values[0])}"))
                    continue
                for before, after in zip(old[name], values, strict=False):
                    if (after < before) if name == "places" else (after > before):
                        found.append(
                            (
                                f.path,
                                line.new,
                                f"tolerance loosened: {name}={_fmt(before)} → {name}={_fmt(after)}",
                            )
                        )
            if made_approx and not _APPROX.search(old_line.text) and _EXACT.search(old_line.text):
                found.append((f.path, line.new, f"exact comparison made approximate: {_quote(line.text)}"))
    return found


def _fmt(value: float) -> str:
    return f"{value:g}"


def retreat_for(patch: str, envelope: Envelope) -> list[Challenge]:
    """:func:`find_retreat` for a task: nothing when its envelope sets ``allow_test_changes``."""
    return find_retreat(patch, allowed=envelope.allow_test_changes)
