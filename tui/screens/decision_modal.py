"""The escalation modal: one decision card, one key per option, the recommended option marked, and
the countdown to the default. Answering writes to the blackboard (the supervisor applies it); the
modal closes itself when the card is resolved elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from cockpit.core import DecisionCard, DecisionError, DecisionStore, clean, format_duration

OPTION_KEYS = "abcd"


def card_body(card: DecisionCard) -> Text:
    """The card as text; its words may quote a worker or an envelope, so each goes through ``clean``."""
    text = Text()
    text.append(clean(f"{card.id} · {card.trigger} · risk {card.risk}\n"), style="bold")
    text.append(clean(card.title) + "\n\n")
    text.append(clean(card.context.strip()) + "\n")
    for option in card.options:
        mark = "  ★ recommended" if option.key == card.recommended else ""
        default = "  (default)" if option.key == card.default else ""
        text.append(clean(f"\n[{option.key}] {option.label}"), style="bold")
        text.append(clean(f"{mark}{default}   cost: {option.cost}\n"))
        for pro in option.pros:
            text.append(clean(f"    + {pro}\n"))
        for con in option.cons:
            text.append(clean(f"    - {con}\n"))
    text.append(clean(f"\nRecommended {card.recommended}: {card.recommended_why}\n"))
    return text


def countdown(card: DecisionCard, now: datetime) -> str:
    left = int((card.deadline - now).total_seconds())
    if left <= 0:
        return f"the default ({card.default}) applies now"
    at = f"{card.deadline:%Y-%m-%d %H:%M} UTC"
    return f"default {card.default} in {format_duration(left)} (at {at})"


class DecisionModal(ModalScreen[str | None]):
    """Dismisses with the chosen option key, or None when closed without answering."""

    BINDINGS = [
        *[
            Binding(k, f"choose('{k.upper()}')", f"option {k.upper()}", id=f"decision.option_{k}")
            for k in OPTION_KEYS
        ],
        Binding("escape", "dismiss_later", "Later", id="decision.later"),
    ]

    def __init__(self, card: DecisionCard, store: DecisionStore) -> None:
        super().__init__(id=f"modal-{card.id}")
        self.card = card
        self.store = store

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-body"):
            with VerticalScroll(id="decision-scroll"):  # a long context (a diff) scrolls; keys stay
                yield Static(card_body(self.card), id="decision-card")
            yield Static(countdown(self.card, self._now()), id="decision-countdown")
        yield Footer()

    def _now(self) -> datetime:
        clock = getattr(self.app, "clock", None)
        return datetime.fromtimestamp(clock(), UTC) if clock else datetime.now(UTC)

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        self.query_one("#decision-countdown", Static).update(countdown(self.card, self._now()))
        fresh = self.store.get(self.card.id)
        if fresh is None or fresh.resolved is not None:
            self.dismiss(None)  # answered elsewhere (CLI, default, orchestrator)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose":
            return str(parameters[0]) in self.card.keys
        return True

    def action_choose(self, key: str) -> None:
        try:
            self.store.answer(self.card.id, key, by="human")
        except DecisionError as exc:
            self.notify(str(exc), severity="error")
            self.dismiss(None)
            return
        self.dismiss(key)

    def action_dismiss_later(self) -> None:
        self.dismiss(None)
