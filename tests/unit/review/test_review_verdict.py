"""The reviewer's verdict block: read leniently, never a pass when it cannot be read, hostile text made
data, and at most twenty challenges kept."""

from __future__ import annotations

import json
import time

import pytest

from cockpit.core.review.verdict import MAX_CHALLENGES, REVIEW_FORMAT, Verdict, VerdictError, parse_verdict


def _reply(obj: object, *, before: str = "I read the diff.\n\n", fence: str = "```json") -> str:
    return f"{before}{fence}\n{json.dumps(obj, indent=2)}\n```\n"


GOOD = {
    "verdict": "challenge",
    "summary": "subtract() is wrong for negatives.",
    "challenges": [
        {
            "kind": "failing_test",
            "claim": "subtract(1, -1) returns 0",
            "file": "calc.py",
            "line": 3,
            "command": ["python", "-m", "pytest", "-q", "tests/test_review_c1.py"],
            "files": {"tests/test_review_c1.py": "from calc import subtract\n"},
        },
        {
            "kind": "spec_violation",
            "claim": "The README example is not updated",
            "criterion": "The README shows subtract()",
        },
        {
            "kind": "counterexample",
            "claim": "accepts text",
            "command": "python -c 'import calc'",
            "expect": "passes",
        },
    ],
}


def test_a_good_verdict_is_read_with_its_challenges_and_evidence() -> None:
    verdict = parse_verdict(_reply(GOOD))
    assert isinstance(verdict, Verdict)
    assert verdict.verdict == "challenge" and verdict.summary == "subtract() is wrong for negatives."
    first, spec, shell = verdict.challenges
    assert [c.id for c in verdict.challenges] == ["c1", "c2", "c3"]
    assert first.kind == "failing_test" and first.where == "calc.py:3" and first.source == "reviewer"
    assert first.evidence.argv == ["python", "-m", "pytest", "-q", "tests/test_review_c1.py"]
    assert first.evidence.files == {"tests/test_review_c1.py": "from calc import subtract\n"}
    assert first.evidence.executable and first.label is None
    assert spec.evidence.criterion == "The README shows subtract()" and not spec.evidence.executable
    assert shell.evidence.argv == ["bash", "-c", "python -c 'import calc'"]
    assert shell.evidence.expect == "succeeds"


def test_approve_with_no_challenges() -> None:
    verdict = parse_verdict(_reply({"verdict": "APPROVE", "summary": "fine", "challenges": []}))
    assert isinstance(verdict, Verdict) and verdict.verdict == "approve" and verdict.challenges == []


def test_the_last_verdict_block_wins_over_an_earlier_example() -> None:
    text = _reply({"verdict": "approve"}, before="For example:\n") + _reply(GOOD, before="My verdict:\n")
    verdict = parse_verdict(text)
    assert isinstance(verdict, Verdict) and verdict.verdict == "challenge"


@pytest.mark.parametrize("fence", ["```", "````json", "~~~json", "```JSON"])
def test_fence_spellings(fence: str) -> None:
    close = fence.rstrip("jsonJSON")
    text = f"done\n{fence}\n{json.dumps({'verdict': 'approve'})}\n{close}\n"
    assert isinstance(parse_verdict(text), Verdict)


def test_a_bare_object_on_its_own_lines_is_accepted() -> None:
    text = "All good.\n" + json.dumps({"verdict": "approve", "challenges": []}, indent=1) + "\nThanks."
    verdict = parse_verdict(text)
    assert isinstance(verdict, Verdict) and verdict.verdict == "approve"


def test_lenient_keys_lines_nested_evidence_and_a_trailing_comma() -> None:
    text = (
        "```json\n"
        '{"Verdict": "Challenge", "Challenges": [{"Kind": "Failing Test", "Claim": "x", "File": "a.py:12",'
        ' "evidence": {"command": ["false"], "expect": "fail"}}, {"kind": "regression", "claim": "slow",'
        ' "line": "40-45", "file": "b.py", "command": ["true"],},],}\n'
        "```"
    )
    verdict = parse_verdict(text)
    assert isinstance(verdict, Verdict)
    a, b = verdict.challenges
    assert (a.kind, a.file, a.line, a.evidence.argv, a.evidence.expect) == (
        "failing_test",
        "a.py",
        12,
        ["false"],
        "fails",
    )
    assert (b.file, b.line) == ("b.py", 40)


def test_unknown_kinds_are_kept() -> None:
    verdict = parse_verdict(
        _reply({"verdict": "challenge", "challenges": [{"kind": "Race-Condition!", "claim": "x"}]})
    )
    assert isinstance(verdict, Verdict) and verdict.challenges[0].kind == "race_condition"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "missing"),
        ("Looks good to me, ship it.", "missing"),
        ("```python\nprint('verdict')\n```", "missing"),
        ('```json\n{"summary": "no verdict key"}\n```', "missing"),
        ('```json\n{"verdict": "approve", "challenges": [}\n```', "malformed"),
        ("```json\n{'verdict': 'approve'}\n```", "malformed"),
        ('```json\n["verdict", "approve"]\n```', "wrong_shape"),
        ('```json\n{"verdict": "lgtm"}\n```', "wrong_shape"),
        ('```json\n{"verdict": null}\n```', "wrong_shape"),
        ('```json\n{"verdict": "approve", "challenges": {"a": 1}}\n```', "wrong_shape"),
        ('```json\n{"verdict": "challenge", "challenges": []}\n```', "wrong_shape"),
        ('```json\n{"verdict": "challenge", "challenges": [{"kind": "x"}, 3]}\n```', "wrong_shape"),
    ],
)
def test_no_parseable_verdict_is_never_a_pass(text: str, reason: str) -> None:
    result = parse_verdict(text)
    assert isinstance(result, VerdictError), result
    assert result.reason == reason
    assert str(result) and "\n" not in str(result)


def test_unreadable_items_are_left_out_and_named() -> None:
    verdict = parse_verdict(
        _reply(
            {
                "verdict": "challenge",
                "challenges": ["a string", {"kind": "x"}, {"claim": "real", "command": ["false"]}],
            }
        )
    )
    assert isinstance(verdict, Verdict)
    assert [c.claim for c in verdict.challenges] == ["real"] and verdict.challenges[0].id == "c1"
    assert verdict.unreadable == [
        "challenge item 1: a JSON string, not an object",
        "challenge item 2: no claim",
    ]


def test_at_most_twenty_challenges_are_kept_and_the_rest_counted() -> None:
    items = [{"kind": "regression", "claim": f"claim {i}", "command": ["false"]} for i in range(35)]
    verdict = parse_verdict(_reply({"verdict": "challenge", "challenges": items}))
    assert isinstance(verdict, Verdict)
    assert len(verdict.challenges) == MAX_CHALLENGES == 20 and verdict.dropped == 15
    assert verdict.challenges[-1].claim == "claim 19"


def test_hostile_text_is_cleaned_capped_and_kept_as_data() -> None:
    claim = (
        "\x1b[31mred\x1b[0m [bold]markup[/bold] \x1b]0;title\x07 key sk-abcdefghijklmnopqrstuvwx "
        + "y" * 10_000
    )
    obj = {
        "verdict": "challenge",
        "summary": "\x1b[2J" + "s" * 50_000,
        "challenges": [
            {
                "kind": "\x1b[1mfailing_test",
                "claim": claim,
                "file": "../../etc/passwd\x07",
                "command": ["printf", "\x1b[31mx"],
                "files": {"t.py": "\x1b]52;c;cm0g\x07X = 1\r\n"},
            }
        ],
    }
    # ANSI outside the JSON too, and a megabyte of noise before it.
    text = "\x1b[32m" + ("noise " * 200_000) + "\n" + _reply(obj).replace("```json", "```json\x1b[0m", 1)
    started = time.monotonic()
    verdict = parse_verdict(text)
    assert time.monotonic() - started < 5
    assert isinstance(verdict, Verdict), verdict
    c = verdict.challenges[0]
    assert "\x1b" not in c.claim and "\x07" not in c.claim and "[bold]markup[/bold]" in c.claim
    assert "sk-abcdefghijklmnopqrstuvwx" not in c.claim and "[REDACTED]" in c.claim
    assert len(c.claim) <= 2_000 and c.claim.endswith("…")
    assert verdict.summary is not None and len(verdict.summary) <= 2_000 and "\x1b" not in verdict.summary
    assert c.kind == "failing_test" and c.file is not None and "\x07" not in c.file
    assert c.evidence.argv == ["printf", "x"]  # escape sequences never reach a command
    assert c.evidence.files == {"t.py": "X = 1\n"}  # nor the files it writes


def test_files_outside_the_repository_make_the_evidence_unrunnable() -> None:
    for bad in ("../escape.py", "/etc/cron.d/x", ".git/hooks/pre-commit", "a/../../b", ""):
        verdict = parse_verdict(
            _reply(
                {
                    "verdict": "challenge",
                    "challenges": [{"claim": "x", "command": ["pytest"], "files": {bad: "print(1)"}}],
                }
            )
        )
        assert isinstance(verdict, Verdict)
        evidence = verdict.challenges[0].evidence
        assert (
            not evidence.executable
            and evidence.problem
            and "not a path inside the repository" in evidence.problem
        )


def test_oversized_or_odd_commands_are_refused_not_cut() -> None:
    cases = [
        {"claim": "x", "command": ["a"] * 100},
        {"claim": "x", "command": "y" * 9_000},
        {"claim": "x", "command": ["python", {"a": 1}]},
        {"claim": "x", "command": 42},
        {"claim": "x", "command": ["true"], "expect": "maybe"},
    ]
    verdict = parse_verdict(_reply({"verdict": "challenge", "challenges": cases}))
    assert isinstance(verdict, Verdict)
    for c in verdict.challenges:
        assert not c.evidence.executable and c.evidence.problem


def test_a_deeply_nested_block_is_an_error_not_a_crash() -> None:
    text = "```json\n" + "[" * 100_000 + "]" * 100_000 + "\n```"
    assert isinstance(parse_verdict(text), VerdictError)


def test_the_format_text_names_the_block_and_its_rules() -> None:
    assert "```json" in REVIEW_FORMAT and '"verdict"' in REVIEW_FORMAT
    for word in (
        "failing_test",
        "counterexample",
        "spec_violation",
        "regression",
        "expect",
        "files",
        "criterion",
    ):
        assert word in REVIEW_FORMAT
    example = REVIEW_FORMAT.split("```json\n", 1)[1].split("\n```", 1)[0]
    assert isinstance(parse_verdict(f"```json\n{example}\n```"), VerdictError)  # "approve or challenge"
    filled = json.loads(example) | {"verdict": "challenge"}
    assert isinstance(parse_verdict(_reply(filled)), Verdict)
