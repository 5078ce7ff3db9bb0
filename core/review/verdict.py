"""The reviewer's verdict: the block its prompt asks for (:data:`REVIEW_FORMAT`) and the lenient reader of
the reviewer's final text (:func:`parse_verdict`).

The format is **one fenced JSON block** (three or more backticks or tildes; the info string ``json``,
``jsonc`` or none) holding one object with a top-level ``"verdict"`` key, as the last such block of the
reply. The reader is lenient about how the object got there and strict about what it must say:

* the **last** fenced block whose object has a ``"verdict"`` key wins (earlier ones may be examples);
  failing any, a bare object written on lines of its own (a line starting with ``{``) is taken;
* keys are matched case-insensitively; ``"APPROVE"`` is ``approve``; a line may be ``"42"`` or
  ``"42-50"``; ``"file": "a.py:42"`` gives the line when none is given; ``"evidence"`` may nest the
  evidence keys; a trailing comma is forgiven;
* a challenge item that cannot be read (no claim, not an object) is left out and named in
  :attr:`Verdict.unreadable`; at most :data:`MAX_CHALLENGES` are kept and the rest counted
  (:attr:`Verdict.dropped`).

The verdict word decides nothing by itself: an ``approve`` that lists challenges has them judged all
the same, and only the judge's labels and the acceptance checks decide a round
(:mod:`cockpit.core.review.rounds`).

**No parseable verdict is never a pass**: :func:`parse_verdict` returns a :class:`VerdictError` — the
block is ``missing``, its JSON is ``malformed``, or it has the ``wrong_shape`` (no ``verdict``, an
unknown verdict, a ``challenge`` verdict with no readable challenge) — and the caller records a failed
round.

Everything read is data: the text is cut to its last :data:`MAX_TEXT_CHARS` characters (the verdict comes
last), escape sequences and control characters are removed before parsing, and every string kept is
cleaned (:data:`~cockpit.core.text.CleanText`) and capped. Markup (``[bold]``) is kept as plain text:
escaping it is each UI's concern. An evidence command is kept as written (control characters removed),
and refused — made non-executable with the reason in :attr:`Evidence.problem` — when it is too long or
writes a file outside the repository.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any, Final, Literal

from pydantic import BaseModel, Field

from cockpit.core.records.review import Challenge, Evidence
from cockpit.core.text import CleanText, clean, cut, one_line, strip_control

__all__ = [
    "MAX_CHALLENGES",
    "REVIEW_FORMAT",
    "Verdict",
    "VerdictError",
    "parse_verdict",
    "safe_relative_path",
]

MAX_CHALLENGES: Final = 20
MAX_TEXT_CHARS: Final = 1_000_000  # of the reviewer's final text, from its end
MAX_BLOCK_CHARS: Final = 500_000  # one JSON block
MAX_SUMMARY: Final = 2_000
MAX_CLAIM: Final = 2_000
MAX_CRITERION: Final = 2_000
MAX_PATH: Final = 500
MAX_KIND: Final = 40
MAX_ARGS: Final = 64
MAX_ARG: Final = 4_096
MAX_SHELL: Final = 8_000
MAX_FILES: Final = 5
MAX_FILE_BYTES: Final = 64 * 1024
MAX_UNREADABLE: Final = 10

REVIEW_FORMAT: Final = f"""\
End your reply with one fenced JSON block — the last thing you write — holding one object:

```json
{{
  "verdict": "approve or challenge",
  "summary": "one or two sentences on the change as a whole",
  "challenges": [
    {{
      "kind": "failing_test, counterexample, spec_violation or regression",
      "claim": "what is wrong, in one or two sentences",
      "file": "path/relative/to/the/repository/root.py",
      "line": 42,
      "command": ["python", "-m", "pytest", "-q", "tests/test_review_c1.py"],
      "expect": "fails",
      "files": {{"tests/test_review_c1.py": "the full content of a test you wrote"}},
      "criterion": null
    }}
  ]
}}
```

Rules for the block:
- "verdict" is "approve" (with an empty "challenges" list) when you found nothing you can back with
  evidence, else "challenge".
- Every challenge needs testable evidence. Give a command that demonstrates it: a failing test, a
  reproducible counterexample, a measured regression. For a spec violation, quote the acceptance
  criterion or spec sentence exactly in "criterion" (and give a command too when one can show it).
  A claim without evidence is discarded.
- "command" is the program and its arguments as a JSON list, run as they are; a single string is run
  with `bash -c`. It runs from the repository root at the reviewed commit, in a sandbox: no network,
  nothing writable outside the repository, at most a few minutes. Only what is committed is there
  (no installed dependencies beyond what the machine has).
- "expect" is "fails" (the default: the command exiting non-zero demonstrates the problem) or
  "succeeds" (exiting 0 does, e.g. input that must be refused is accepted).
- "files" (optional, at most {MAX_FILES}) are written into the checkout before the command runs: a
  test you wrote. Paths are relative to the repository root and stay inside it.
- "file" and "line" point at the code in the reviewed version; null when they do not apply.
- At most {MAX_CHALLENGES} challenges, the most important first. Use double quotes; no comments.
"""
"""The verdict format, as the reviewer's prompt embeds it."""


class Verdict(BaseModel):
    """A verdict read from the reviewer's text: its word, summary and (unlabelled) challenges."""

    verdict: Literal["approve", "challenge"]
    summary: CleanText | None = None
    challenges: list[Challenge] = Field(default_factory=list)
    dropped: int = 0  # challenges past MAX_CHALLENGES
    unreadable: list[CleanText] = Field(default_factory=list)  # items left out, and why


class VerdictError(BaseModel):
    """Why no verdict could be read: never a pass."""

    reason: Literal["missing", "malformed", "wrong_shape"]
    detail: CleanText

    def __str__(self) -> str:
        words = {
            "missing": "no verdict block",
            "malformed": "the verdict block is not valid JSON",
            "wrong_shape": "the verdict block has the wrong shape",
        }
        return f"{words[self.reason]}: {self.detail}"


# ------------------------------------------------------------------------------------------ finding

_FENCE: Final = re.compile(
    r"^[ \t]{0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[A-Za-z0-9_+-]*)[^\n]*\n"
    r"(?P<body>.*?)\n[ \t]{0,3}(?P=fence)[ \t]*$",
    re.S | re.M,
)
_JSON_INFO: Final = frozenset({"", "json", "jsonc", "json5"})
_TRAILING_COMMA: Final = re.compile(r",(\s*[}\]])")


class _Candidate:
    __slots__ = ("error", "value")

    def __init__(self, value: Any = None, error: str | None = None) -> None:
        self.value = value
        self.error = error


def _load(body: str) -> _Candidate:
    if len(body) > MAX_BLOCK_CHARS:
        return _Candidate(error=f"the block is {len(body):,} characters long (at most {MAX_BLOCK_CHARS:,})")
    try:
        return _Candidate(json.loads(body))
    except (ValueError, RecursionError) as exc:
        first = str(exc)
    try:
        return _Candidate(json.loads(_TRAILING_COMMA.sub(r"\1", body)))
    except (ValueError, RecursionError):
        return _Candidate(error=first)


def _has_verdict_key(value: Any) -> bool:
    return isinstance(value, dict) and any(
        isinstance(k, str) and k.strip().lower() == "verdict" for k in value
    )


def _bare_object(text: str) -> _Candidate | None:
    """The last object that starts at the beginning of a line and holds a ``"verdict"`` key: tried from
    the last ``"verdict"`` backwards, at most :data:`_BARE_TRIES` starts."""
    at = text.lower().rfind('"verdict"')
    if at < 0:
        return None
    starts = [m.end() - 1 for m in re.finditer(r"^[ \t]*\{", text[:at], re.M)]
    decoder = json.JSONDecoder()
    for start in reversed(starts[-_BARE_TRIES:]):
        try:
            value, _ = decoder.raw_decode(text[start : start + MAX_BLOCK_CHARS])
        except (ValueError, RecursionError):
            continue
        if _has_verdict_key(value):
            return _Candidate(value)
    return None


_BARE_TRIES: Final = 20


def _find_block(text: str) -> _Candidate | VerdictError:
    fenced = [m for m in _FENCE.finditer(text) if m.group("info").lower() in _JSON_INFO]
    loaded = [_load(m.group("body").strip()) for m in fenced]
    for candidate in reversed(loaded):
        if candidate.error is None and _has_verdict_key(candidate.value):
            return candidate
    bare = _bare_object(text)
    if bare is not None:
        return bare
    # Nothing usable: say why as precisely as possible (the last block that mentions a verdict).
    for m, candidate in zip(reversed(fenced), reversed(loaded), strict=True):
        body = m.group("body").lower()
        if candidate.error is not None and "verdict" in body:
            return VerdictError(reason="malformed", detail=one_line(candidate.error))
        if candidate.error is None and '"verdict"' in body:
            kind = _type_name(candidate.value)
            detail = (
                'the object has no top-level "verdict" key'
                if kind == "object"
                else f"the block is a JSON {kind}, not an object"
            )
            return VerdictError(reason="wrong_shape", detail=detail)
    if fenced:
        return VerdictError(reason="missing", detail='no fenced JSON block has a top-level "verdict" key')
    if "verdict" in text.lower() and "{" in text:
        return VerdictError(reason="malformed", detail="a verdict object was found but it is not valid JSON")
    return VerdictError(reason="missing", detail='the reply has no fenced JSON block with a "verdict" key')


def _type_name(value: Any) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), "null" if value is None else "object"
    )


# ------------------------------------------------------------------------------------------ reading


def _lower_keys(data: Mapping[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(key, str):
            out.setdefault(re.sub(r"[\s-]+", "_", key.strip().lower()), value)
    return out


def _text(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool | int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = clean(value).strip()
    return cut(value, limit) if value else None


def _kind(value: Any) -> str:
    text = _text(value, 200) or "unspecified"
    word = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return (word[:MAX_KIND].rstrip("_") or "unspecified") if word else "unspecified"


def _line(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, float) and value.is_integer() and value > 0:
        return int(value)
    if isinstance(value, str):
        match = re.match(r"\s*L?(\d{1,9})", value)
        if match and int(match.group(1)) > 0:
            return int(match.group(1))
    return None


def safe_relative_path(path: str) -> str | None:
    """``path`` as a clean relative POSIX path inside a repository, or None when it is not one (absolute,
    ``..``, inside ``.git``, empty, control characters, too long)."""
    if not path or len(path) > MAX_PATH or strip_control(path) != path or "\\" in path:
        return None
    pure = PurePosixPath(path)
    if pure.is_absolute() or not pure.parts:
        return None
    parts = [p for p in pure.parts if p != "."]
    if not parts or any(p == ".." for p in parts) or parts[0] == ".git" or ".git" in parts:
        return None
    return "/".join(parts)


def _file_and_line(data: dict[str, Any]) -> tuple[str | None, int | None]:
    file = _text(data.get("file") or data.get("path"), MAX_PATH)
    line = _line(data.get("line"))
    if file is not None:
        match = re.fullmatch(r"(.+?):(\d{1,9})(?::\d+)?", file)
        if match:
            file = match.group(1)
            line = line if line is not None else _line(match.group(2))
    return file, line


_EXPECT: Final = {
    "fails": "fails",
    "fail": "fails",
    "failure": "fails",
    "failing": "fails",
    "nonzero": "fails",
    "non_zero": "fails",
    "error": "fails",
    "succeeds": "succeeds",
    "succeed": "succeeds",
    "success": "succeeds",
    "passes": "succeeds",
    "pass": "succeeds",
    "zero": "succeeds",
}


def _evidence(data: dict[str, Any]) -> Evidence:
    nested = data.get("evidence")
    if isinstance(nested, Mapping):
        data = {**data, **{k: v for k, v in _lower_keys(nested).items() if k not in data or data[k] is None}}
    elif isinstance(nested, str) and "criterion" not in data:
        data = {**data, "criterion": nested}  # a sentence of evidence: for a human to read
    problems: list[str] = []
    command: list[str] | None = None
    shell: str | None = None
    raw = data.get("command", data.get("cmd", data.get("argv")))
    if isinstance(raw, list) and raw:
        if not all(isinstance(a, str | int | float) and not isinstance(a, bool) for a in raw):
            problems.append("the command list holds something other than strings")
        elif len(raw) > MAX_ARGS:
            problems.append(f"the command has {len(raw)} arguments (at most {MAX_ARGS})")
        else:
            command = [strip_control(str(a)) for a in raw]
            if any(len(a) > MAX_ARG for a in command) or any("\x00" in str(a) for a in raw):
                problems.append("a command argument is too long or holds a NUL character")
                command = None
            elif not command[0].strip():
                problems.append("the command's program is empty")
                command = None
    elif isinstance(raw, str) and raw.strip():
        if len(raw) > MAX_SHELL or "\x00" in raw:
            problems.append(f"the command line is longer than {MAX_SHELL} characters or holds a NUL")
        else:
            shell = strip_control(raw).strip()
    elif raw not in (None, [], ""):
        problems.append(f"the command is a JSON {_type_name(raw)}, not a list or a string")
    expect_raw = data.get("expect")
    expect = "fails"
    if expect_raw is not None:
        word = re.sub(r"[^a-z]+", "_", str(expect_raw).strip().lower()).strip("_")
        if word in _EXPECT:
            expect = _EXPECT[word]
        else:
            problems.append(f"unknown expect {cut(clean(str(expect_raw)), 40)!r} (fails or succeeds)")
    files: dict[str, str] = {}
    raw_files = data.get("files")
    if isinstance(raw_files, Mapping) and raw_files:
        if len(raw_files) > MAX_FILES:
            problems.append(f"{len(raw_files)} files to write (at most {MAX_FILES})")
        for name, content in list(raw_files.items())[:MAX_FILES]:
            path = safe_relative_path(name) if isinstance(name, str) else None
            if path is None:
                problems.append(
                    f"refused to write {cut(clean(str(name)), 80)!r}: not a path inside the repository"
                )
            elif not isinstance(content, str):
                problems.append(f"the content of {path} is not a string")
            elif len(content.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES or "\x00" in content:
                problems.append(f"the content of {path} is over {MAX_FILE_BYTES // 1024} KiB or holds a NUL")
            else:
                files[path] = content
    elif raw_files not in (None, {}, []):
        problems.append("files is not an object of path: content")
    criterion = _text(data.get("criterion") or data.get("quote") or data.get("spec"), MAX_CRITERION)
    problem = cut("; ".join(problems), 500) if problems else None
    return Evidence(
        command=command,
        shell=shell,
        expect=expect,  # type: ignore[arg-type]
        files=files,
        criterion=criterion,
        problem=problem,
    )


def _challenge(n: int, item: Any) -> Challenge | str:
    """Challenge ``c<n>`` read from ``item``, or why it cannot be read."""
    if not isinstance(item, Mapping):
        return f"a JSON {_type_name(item)}, not an object"
    data = _lower_keys(item)
    claim = _text(data.get("claim") or data.get("description") or data.get("title"), MAX_CLAIM)
    if claim is None:
        return "no claim"
    file, line = _file_and_line(data)
    return Challenge(
        id=f"c{n}",
        kind=_kind(data.get("kind") or data.get("type")),
        claim=claim,
        file=file,
        line=line,
        evidence=_evidence(data),
        source="reviewer",
    )


def parse_verdict(text: str) -> Verdict | VerdictError:
    """Read the verdict from the reviewer's final text (see the module docstring for the format)."""
    if not isinstance(text, str) or not text.strip():
        return VerdictError(reason="missing", detail="the reviewer's reply is empty")
    if len(text) > MAX_TEXT_CHARS:
        text = text[-MAX_TEXT_CHARS:]
    found = _find_block(strip_control(text))
    if isinstance(found, VerdictError):
        return found
    data = _lower_keys(found.value)
    word = data.get("verdict")
    if not isinstance(word, str) or word.strip().lower() not in ("approve", "challenge"):
        shown = cut(clean(json.dumps(word, ensure_ascii=False)), 60)
        return VerdictError(reason="wrong_shape", detail=f'"verdict" is {shown} (approve or challenge)')
    verdict = word.strip().lower()
    raw_items = data.get("challenges", [])
    if raw_items is None:
        raw_items = []
    if not isinstance(raw_items, list):
        return VerdictError(
            reason="wrong_shape", detail=f'"challenges" is a JSON {_type_name(raw_items)}, not an array'
        )
    challenges: list[Challenge] = []
    unreadable: list[str] = []
    dropped = 0
    for index, item in enumerate(raw_items, start=1):
        if len(challenges) >= MAX_CHALLENGES:
            dropped += 1
            continue
        read = _challenge(len(challenges) + 1, item)
        if isinstance(read, str):
            if len(unreadable) < MAX_UNREADABLE:
                unreadable.append(f"challenge item {index}: {read}")
            continue
        challenges.append(read)
    if verdict == "challenge" and not challenges:
        why = f" ({unreadable[0]})" if unreadable else ""
        return VerdictError(
            reason="wrong_shape", detail=f"the verdict is challenge but no challenge is readable{why}"
        )
    return Verdict(
        verdict=verdict,  # type: ignore[arg-type]
        summary=_text(data.get("summary"), MAX_SUMMARY),
        challenges=challenges,
        dropped=dropped,
        unreadable=unreadable,
    )
