"""What the cross-family review of a task leaves on the board: each round's reviewer run and verdict, the
challenges it raised with the evidence behind each, the judge's label for each and the output that
label rests on, and the review's status over all its rounds.

A round reviews one attempt's result (its head commit): a reviewer from another model family reads the
task's diff and ends with a verdict listing **challenges**, each backed by testable evidence. The
cockpit is the judge: it runs each challenge's command in Codex's sandbox and labels it from what
happened (:mod:`cockpit.core.review.judge`), adds what it finds itself in the diff
(:mod:`cockpit.core.review.retreat`), and decides what comes next (:mod:`cockpit.core.review.rounds`).

Records only: nothing here parses a verdict, runs a command or decides. Every string a model or a
command produced is :data:`~cockpit.core.text.CleanText` (cleaned when validated and when written),
except an evidence command and the files it writes, which are kept as given (control characters
removed) so that what was run is what the reviewer wrote; show them through
:func:`~cockpit.core.text.clean`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, Field, computed_field, field_validator

from cockpit.core.records.attempt import Failure
from cockpit.core.records.basics import Usage, utc_now
from cockpit.core.text import CleanText, clean, cut, one_line, strip_control

__all__ = [
    "CHALLENGE_KINDS",
    "LABELS",
    "Challenge",
    "ChallengeCounts",
    "CommandText",
    "Evidence",
    "JudgeOutput",
    "Label",
    "LabelledBy",
    "ReviewRound",
    "ReviewState",
    "ReviewStatus",
    "ReviewerRun",
    "VerdictWord",
    "count_challenges",
]

CHALLENGE_KINDS: Final = (
    "failing_test",
    "counterexample",
    "spec_violation",
    "regression",
    "validation_retreat",
)
"""The kinds the cockpit knows. An open set: a reviewer's other kind is kept as written (normalised to
``lower_snake_case``) and judged like any other challenge."""

Label = Literal["VALID", "NOISE", "PARTIAL"]
LABELS: Final[tuple[str, ...]] = ("VALID", "NOISE", "PARTIAL")
"""The playbook's labels: VALID (fix it), PARTIAL (narrow it, then fix or re-test; or a human labels
it), NOISE (discard)."""

LabelledBy = Literal["judge", "human", "orchestrator"]
Expect = Literal["fails", "succeeds"]
VerdictWord = Literal["approve", "challenge", "none"]
Source = Literal["reviewer", "cockpit"]

ReviewStatus = Literal["reviewing", "challenged", "converged", "failed", "skipped", "cancelled"]
"""``reviewing``: a round is under way (reviewer or judge running); ``challenged``: the last round left
VALID or PARTIAL challenges (the task went back to Codex, or to a human at the hard cap);
``converged``: a round with no VALID challenge and the acceptance checks passing (on to human review);
``failed``: the review itself failed (no readable verdict, the reviewer crashed) — never a pass;
``skipped``: not reviewed (the lane's review is off, or the envelope says ``review = false``);
``cancelled``: the task was cancelled while its last round was under way (the round has a ``failure``
saying so: never a pass, and not a failed try to retry)."""


CommandText = Annotated[str, AfterValidator(strip_control)]
"""An evidence command's text: control characters and escape sequences removed, nothing else changed
(no masking: the judge runs what the reviewer wrote). Shown through :func:`~cockpit.core.text.clean`."""


def _upper_label(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


class Evidence(BaseModel):
    """What backs a challenge: a command to run, or a criterion quoted, or both.

    The command is an argv list (``command``: the program and its arguments, run as they are) or one
    shell command line (``shell``: run as ``bash -c <line>``, always inside the sandbox). ``expect`` says
    what demonstrates the claim: ``fails`` (the default: the command exits non-zero) or ``succeeds``
    (it exits 0, e.g. input that should be refused is accepted). ``files`` are written into the judge's
    checkout (paths relative to the repository root) before the command runs: a test the reviewer wrote;
    like the command, their text is kept as written but for control characters (:data:`CommandText`).
    ``problem`` says why the given command cannot be run as evidence (too long, a path outside the
    repository, an unknown ``expect``), in which case the challenge is not executable.
    """

    command: list[CommandText] | None = None
    shell: CommandText | None = None
    expect: Expect = "fails"
    files: dict[CommandText, CommandText] = Field(default_factory=dict)
    criterion: CleanText | None = None
    problem: CleanText | None = None

    @property
    def executable(self) -> bool:
        """Whether the judge can run this evidence: a command (or shell line) and no problem with it."""
        return self.problem is None and (bool(self.command) or bool(self.shell))

    @property
    def argv(self) -> list[str] | None:
        """What runs inside the sandbox: the argv as given, or ``bash -c <line>``; None: nothing to run."""
        if self.command:
            return list(self.command)
        if self.shell:
            return ["bash", "-c", self.shell]
        return None

    @property
    def shown(self) -> str:
        """The evidence in one line, cleaned, for a card or the feedback (never the files' contents)."""
        parts: list[str] = []
        if self.command:
            parts.append("`" + " ".join(self.command) + "`")
        elif self.shell:
            parts.append("`" + self.shell + "`")
        if parts and self.expect == "succeeds":
            parts[-1] += " (should not succeed)"
        if self.files:
            parts.append("writes " + ", ".join(sorted(self.files)))
        if self.criterion:
            parts.append(f'criterion: "{self.criterion}"')
        return cut(clean(one_line("; ".join(parts))), 600) if parts else "none"


class JudgeOutput(BaseModel):
    """What the judge saw when it ran a challenge's command in the sandbox."""

    argv: list[CommandText] = Field(default_factory=list)  # what ran inside ``codex sandbox … --``
    exit_code: int | None = None  # None: never started, or killed before it ended
    timed_out: bool = False
    duration_s: float = 0.0
    stdout_tail: CleanText = ""
    stderr_tail: CleanText = ""
    output_bytes: int = 0  # stdout and stderr together, as produced (the tails are capped)


class Challenge(BaseModel):
    """One challenge: a claim about the reviewed result, its evidence, and its label."""

    id: CleanText  # ``c1``, ``c2`` … in the reviewer's order; ``retreat-1`` … for the cockpit's own
    kind: CleanText  # see CHALLENGE_KINDS (an open set)
    claim: CleanText
    file: CleanText | None = None  # relative to the repository root
    line: int | None = None  # in the reviewed (head) version of ``file``
    evidence: Evidence = Field(default_factory=Evidence)
    source: Source = "reviewer"  # the reviewer's, or the cockpit's own (validation retreat)
    label: Label | None = None
    labelled_by: LabelledBy | None = None
    label_reason: CleanText | None = None  # why: "reproduced: exit 1", "not found in the sandbox", …
    labelled_at: datetime | None = None
    judge: JudgeOutput | None = None

    @field_validator("label", mode="before")
    @classmethod
    def _label_word(cls, value: Any) -> Any:
        return _upper_label(value)

    @property
    def where(self) -> str:
        """``file:line``, ``file``, or ``""``."""
        if not self.file:
            return ""
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes two rounds' challenges the same one: kind, file and the claim normalised (lower
        case, words only). The line is left out: it moves as the code changes."""
        words = "".join(ch if ch.isalnum() else " " for ch in self.claim.lower())
        return (self.kind, self.file or "", " ".join(words.split()))

    def labelled(
        self, label: Label, by: LabelledBy, reason: str, judge: JudgeOutput | None = None
    ) -> Challenge:
        """A copy with ``label`` set by ``by`` now (and the judge's output, when it ran something)."""
        update: dict[str, Any] = {
            "label": label,
            "labelled_by": by,
            "label_reason": reason,
            "labelled_at": utc_now(),
        }
        if judge is not None:
            update["judge"] = judge
        return self.model_validate({**self.model_dump(), **update})


class ReviewerRun(BaseModel):
    """The reviewer's process (its last try): how it ended and what it cost. ``cost_usd`` and ``usage``
    add up every try of the round."""

    model: CleanText | None = None
    effort: str | None = None
    exit_code: int | None = None
    duration_s: float | None = None
    usage: Usage | None = None
    cost_usd: float | None = None
    session_id: CleanText | None = None
    runner_pid: int | None = None  # the detached review runner of the try under way


class ReviewRound(BaseModel):
    """One review of one attempt's result and what the judge made of it."""

    n: int  # 1-based
    attempt: int  # the attempt whose result was reviewed
    head_commit: str  # the commit reviewed (and the one the judge's checkout is made at)
    started_at: datetime = Field(default_factory=utc_now)
    ended_at: datetime | None = None
    reviewer: ReviewerRun = Field(default_factory=ReviewerRun)
    verdict: VerdictWord = "none"  # "none": no readable verdict (see ``failure``)
    summary: CleanText | None = None
    challenges: list[Challenge] = Field(default_factory=list)
    dropped: int = 0  # challenges past the cap, counted and not kept
    unreadable: list[CleanText] = Field(default_factory=list)  # challenge items left out, and why
    failure: CleanText | None = None  # why the review failed: no verdict, the reviewer crashed, …
    acceptance_passed: bool | None = None
    decision: CleanText | None = None  # what the round led to, in one line (rounds.decide's reason)
    # The reviewer's tries: a failed review (no verdict, an API error, a timeout) is classified like an
    # attempt's failure and retried within the same round, never counted as a round of its own.
    tries: int = 0  # reviewer runs started for this round
    retry_at: float | None = None  # the next try starts no earlier (the retry policy's delay, epoch s)
    reviewer_failures: list[Failure] = Field(default_factory=list)  # each failed try, in order
    retry_from: int = 0  # failures before this index came before a person asked for another try

    @property
    def failed(self) -> bool:
        return self.failure is not None or self.verdict == "none"

    @property
    def counts(self) -> ChallengeCounts:
        return count_challenges(self.challenges)


@dataclass(frozen=True)
class ChallengeCounts:
    """Challenges by label. ``substantive`` = VALID + PARTIAL; ``rate`` = substantive / labelled (None
    when nothing is labelled). Counted over the reviewer's challenges only unless asked otherwise: the
    rate measures the reviewer, not the cockpit's own findings."""

    valid: int = 0
    partial: int = 0
    noise: int = 0
    unlabelled: int = 0

    @property
    def labelled(self) -> int:
        return self.valid + self.partial + self.noise

    @property
    def total(self) -> int:
        return self.labelled + self.unlabelled

    @property
    def substantive(self) -> int:
        return self.valid + self.partial

    @property
    def rate(self) -> float | None:
        return self.substantive / self.labelled if self.labelled else None

    def __add__(self, other: ChallengeCounts) -> ChallengeCounts:
        return ChallengeCounts(
            self.valid + other.valid,
            self.partial + other.partial,
            self.noise + other.noise,
            self.unlabelled + other.unlabelled,
        )


def count_challenges(challenges: Iterable[Challenge], *, reviewer_only: bool = True) -> ChallengeCounts:
    """Count ``challenges`` by label (the reviewer's only, unless ``reviewer_only`` is False)."""
    valid = partial = noise = unlabelled = 0
    for c in challenges:
        if reviewer_only and c.source != "reviewer":
            continue
        if c.label == "VALID":
            valid += 1
        elif c.label == "PARTIAL":
            partial += 1
        elif c.label == "NOISE":
            noise += 1
        else:
            unlabelled += 1
    return ChallengeCounts(valid, partial, noise, unlabelled)


class ReviewState(BaseModel):
    """A task's review over all its rounds."""

    status: ReviewStatus = "reviewing"
    rounds: list[ReviewRound] = Field(default_factory=list)
    skipped_reason: CleanText | None = None
    effort_raised_to: str | None = None  # the tier the last stall raised the next attempt to
    soft_cap: int | None = None  # the config's soft cap when the last round began (for "review 2/3")

    @property
    def last_round(self) -> ReviewRound | None:
        return self.rounds[-1] if self.rounds else None

    @property
    def counts(self) -> ChallengeCounts:
        """The reviewer's challenges over every round, by label."""
        return count_challenges(c for r in self.rounds for c in r.challenges)

    @property
    def substantive_rate(self) -> float | None:
        """(VALID + PARTIAL) / labelled over the reviewer's challenges of every round; None: none yet."""
        return self.counts.rate

    @computed_field  # type: ignore[prop-decorator]
    @property
    def substantive(self) -> dict[str, float | int | None]:
        """:attr:`counts` as written into ``state.json`` for readers (recomputed on load, never read)."""
        counts = self.counts
        return {
            "valid": counts.valid,
            "partial": counts.partial,
            "noise": counts.noise,
            "unlabelled": counts.unlabelled,
            "rate": counts.rate,
        }
