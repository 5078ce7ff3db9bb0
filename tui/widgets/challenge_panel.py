"""The cross-family review's challenges beside a task's diff: one round at a time (the last one first),
a row per challenge — its label badge (VALID, PARTIAL, NOISE or unlabelled), id, kind, ``file:line`` and
claim — and under the list the highlighted challenge's detail: the claim in full, its evidence, who
labelled it and why, and what the judge ran and saw (argv, exit code, whether it timed out, the tails of
its stdout and stderr).

Everything shown came from the reviewer or from a command: it goes through
:func:`~cockpit.core.text.clean` and is drawn as :class:`~rich.text.Text`, never as markup. Badges and
headings take the panel's component classes (``styles/challenges.tcss``), redrawn when the theme
changes. Enter on a row posts :class:`ChallengePanel.Jump`: the screen shows that file and line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Final

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import OptionList, Static

from cockpit.core import clean, one_line

if TYPE_CHECKING:
    from cockpit.core import Challenge, ReviewRound

__all__ = ["ChallengePanel", "badge_word"]

TAIL_LINES: Final = 30  # lines of each judge output tail shown
CLAIM_CHARS: Final = 2_000
_BADGE_WIDTH: Final = 10
_PARTS: Final = ("valid", "partial", "noise", "unlabelled", "heading", "muted")


def badge_word(challenge: Challenge) -> str:
    """The challenge's label as its badge says it: VALID, PARTIAL, NOISE or unlabelled."""
    return challenge.label or "unlabelled"


def _part(challenge: Challenge) -> str:
    return (challenge.label or "unlabelled").lower()


def _shown(text: str | None) -> str:
    """Model or command text for one line of the panel."""
    return clean(one_line(text or ""))


def _tail(text: str, lines: int = TAIL_LINES) -> list[str]:
    kept = clean(text).rstrip("\n").splitlines()
    return ["…", *kept[-lines:]] if len(kept) > lines else kept


class ChallengePanel(Vertical):
    """The review's challenges, one round at a time, and the highlighted one's detail."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {f"challenge-panel--{part}" for part in _PARTS}

    class Jump(Message):
        """Enter on a challenge: show its file and line."""

        def __init__(self, challenge: Challenge) -> None:
            super().__init__()
            self.challenge = challenge

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rounds: list[ReviewRound] = []
        self.round_index = 0
        self._drawn_with: tuple[Style, ...] | None = None

    def compose(self) -> ComposeResult:
        yield OptionList(id="challenge-list")
        with VerticalScroll(id="challenge-detail"):
            yield Static(id="challenge-detail-text")

    # ---- what is shown ------------------------------------------------------------------------
    @property
    def round(self) -> ReviewRound | None:
        return self.rounds[self.round_index] if self.rounds else None

    @property
    def challenges(self) -> list[Challenge]:
        rnd = self.round
        return list(rnd.challenges) if rnd is not None else []

    @property
    def highlighted(self) -> Challenge | None:
        index = self.query_one("#challenge-list", OptionList).highlighted
        challenges = self.challenges
        return challenges[index] if index is not None and 0 <= index < len(challenges) else None

    def show_rounds(self, rounds: Sequence[ReviewRound]) -> None:
        """Show ``rounds``: the round shown so far and its highlighted challenge stay when they are still
        there (by number and id), else the last round and its first challenge."""
        shown = self.round.n if self.round is not None else None
        current = self.highlighted
        self.rounds = list(rounds)
        index = next((i for i, r in enumerate(self.rounds) if r.n == shown), len(self.rounds) - 1)
        self._show_round(max(index, 0), current.id if current is not None else None)

    def step_round(self, step: int) -> None:
        """Show the round ``step`` away (wrapping around)."""
        if self.rounds:
            self._show_round((self.round_index + step) % len(self.rounds), None)

    def _show_round(self, index: int, keep: str | None) -> None:
        self.round_index = index
        challenges = self.challenges
        self._drawn_with = self._part_styles()
        options = self.query_one("#challenge-list", OptionList)
        options.set_options([self._row(c) for c in challenges])
        if challenges:
            options.highlighted = next((i for i, c in enumerate(challenges) if c.id == keep), 0)
        rnd = self.round
        if rnd is None:
            self.border_title = "challenges"
            self.border_subtitle = ""
        else:
            self.border_title = f"challenges · round {rnd.n} of {len(self.rounds)}" + (
                " · r: earlier" if len(self.rounds) > 1 else ""
            )
            valid = sum(1 for c in challenges if c.label == "VALID")
            partial = sum(1 for c in challenges if c.label == "PARTIAL")
            noise = sum(1 for c in challenges if c.label == "NOISE")
            open_ = sum(1 for c in challenges if c.label is None)
            parts = [f"{valid} VALID", f"{partial} PARTIAL", f"{noise} NOISE"]
            if open_:
                parts.append(f"{open_} unlabelled")
            self.border_subtitle = " · ".join(parts)
        self._show_detail()

    # ---- drawing ------------------------------------------------------------------------------
    def _style(self, part: str) -> Style:
        return self.get_component_rich_style(f"challenge-panel--{part}", partial=True)

    def _part_styles(self) -> tuple[Style, ...]:
        return tuple(self._style(part) for part in _PARTS)

    def _badge(self, challenge: Challenge) -> Text:
        # no-break spaces: a line's leading spaces are not drawn
        word = f"{badge_word(challenge):^{_BADGE_WIDTH}}"
        return Text(word, style=self._style(_part(challenge)))

    def _row(self, challenge: Challenge) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append_text(self._badge(challenge))
        text.append(f" {_shown(challenge.id)}", style=self._style("heading"))
        text.append(f"  {_shown(challenge.kind)}")
        if challenge.where:
            text.append(f"  {_shown(challenge.where)}", style=self._style("muted"))
        text.append("\n" + _shown(challenge.claim)[:300])
        return text

    def _show_detail(self) -> None:
        self.query_one("#challenge-detail-text", Static).update(self._detail())
        self.query_one("#challenge-detail", VerticalScroll).scroll_home(animate=False)

    def _detail(self) -> Text:
        challenge = self.highlighted
        rnd = self.round
        text = Text()
        if challenge is None:
            if rnd is None:
                return Text("no review rounds", style=self._style("muted"))
            text.append(f"round {rnd.n}: no challenges", style=self._style("heading"))
            text.append(f" (verdict: {rnd.verdict})\n", style=self._style("muted"))
            for line in (rnd.summary, rnd.failure, rnd.decision):
                if line:
                    text.append(clean(line) + "\n")
            return text
        heading = Text()
        heading.append_text(self._badge(challenge))
        heading.append(f" {_shown(challenge.id)} · {_shown(challenge.kind)}", style=self._style("heading"))
        if challenge.where:
            heading.append(f" · {_shown(challenge.where)}", style=self._style("heading"))
        text.append_text(heading)
        if challenge.source == "cockpit":
            text.append("  the cockpit's own finding", style=self._style("muted"))
        text.append("\n")
        text.append(clean(challenge.claim)[:CLAIM_CHARS] + "\n\n")
        self._field(text, "Evidence", challenge.evidence.shown)
        if challenge.evidence.problem:
            self._field(text, "", f"not run: {_shown(challenge.evidence.problem)}")
        if challenge.label is None:
            self._field(text, "Label", "unlabelled (counts as PARTIAL)")
        else:
            said = f"{challenge.label} by the {challenge.labelled_by or '?'}"
            if challenge.label_reason:
                said += f": {_shown(challenge.label_reason)}"
            self._field(text, "Label", said)
        judge = challenge.judge
        if judge is None:
            self._field(text, "Judge", "ran nothing for it")
            return text
        argv = _shown(" ".join(judge.argv)) or "?"
        self._field(text, "Judge ran", f"`{argv}`")
        how = ["exit ?" if judge.exit_code is None else f"exit {judge.exit_code}"]
        how.append(f"{judge.duration_s:.1f} s")
        if judge.timed_out:
            how.append("timed out")
        self._field(text, "", " · ".join(how))
        for name, tail in (("stdout", judge.stdout_tail), ("stderr", judge.stderr_tail)):
            lines = _tail(tail)
            if not lines:
                continue
            text.append(f"{name} (tail)\n", style=self._style("heading"))
            for line in lines:
                text.append("│ ", style=self._style("muted"))
                text.append(f"{line}\n")
        return text

    def _field(self, text: Text, name: str, value: str) -> None:
        text.append(f"{name:<10}", style=self._style("heading"))
        text.append(value + "\n")

    # ---- events -------------------------------------------------------------------------------
    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.id == "challenge-list":
            event.stop()
            self._show_detail()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "challenge-list":
            event.stop()
            challenge = self.highlighted
            if challenge is not None:
                self.post_message(self.Jump(challenge))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.call_later(self._restyle)

    def _restyle(self) -> None:
        if self.rounds and self.is_mounted and self._part_styles() != self._drawn_with:
            current = self.highlighted
            self._show_round(self.round_index, current.id if current is not None else None)
