"""The review's challenges beside the diff, with Pilot over real git: the panel lists the last round's
challenges with their labels and details; Enter shows a challenge's file with its line marked (or says
the line or file is not in the diff); relabelling goes through the core's ``label`` and back into the
panel from ``state.json``; send back starts from the VALID and PARTIAL challenges; an earlier round is a
key away; hostile claims are shown as data; a reviewed cloud task has the panel too."""

from __future__ import annotations

from pathlib import Path

from git import Repo
from rich.text import Text
from textual.geometry import Region
from textual.widgets import OptionList, Static, TextArea

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.review import Evidence
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.cloud_review import AttemptList, CloudReviewScreen
from cockpit.tui.screens.diff_screen import DiffScreen, FeedbackModal, LabelModal
from cockpit.tui.widgets.challenge_panel import ChallengePanel
from cockpit.tui.widgets.diff_view import DiffView
from tests.helpers.cloud_review import make_cloud_review_task
from tests.helpers.pilot import select_task, until
from tests.helpers.review import add_review, challenge, make_review_task, ran

TASK = "add-helpers-0001"
CLOUD_TASK = "multiply-best-of-two-c10d"
LONG = "".join(f"line_{n} = {n}\n" for n in range(1, 101))  # long.py, committed on main
HELPERS = "".join(f"\n\ndef helper_{n}(x):\n    return x + {n}\n" for n in range(20))  # 80 lines
HOSTILE = "\x1b[2J\x1b]0;pwned\x07[bold red]boom[/bold red] and [link=http://x]click[/link]"


def board_with_challenges(repo: Path) -> Blackboard:
    """A task in review: ``calc.py`` grows by 80 lines, ``long.py`` changes at line 90 (lines 1–86 are
    not in the diff), ``test_calc.py`` is new. Its review has two rounds; the last one's challenges are
    c1 VALID (calc.py:70, the judge reproduced it), c2 NOISE (the judge's command passed), c3 PARTIAL on
    a line the diff does not show, c4 unlabelled with a hostile claim in a file the diff does not touch."""
    (repo / "long.py").write_text(LONG)
    git = Repo(repo)
    git.index.add(["long.py"])
    git.index.commit("add long.py")
    board = Blackboard(repo)

    def write(tree: Path) -> None:
        (tree / "calc.py").write_text((tree / "calc.py").read_text() + HELPERS)
        (tree / "long.py").write_text(LONG.replace("line_90 = 90", "line_90 = -90"))
        (tree / "test_calc.py").write_text(
            "from calc import helper_1\n\n\ndef test():\n    assert helper_1(1) == 2\n"
        )

    make_review_task(board, TASK, write, title="Add helpers")
    add_review(
        board,
        TASK,
        [challenge("c1", "NOISE", claim="an old claim from round one", judge=ran(0))],
        [
            challenge(
                "c1",
                "VALID",
                claim="helper_16 adds the wrong constant",
                line=70,
                reason="reproduced: the command failed (exit 1)",
                judge=ran(1, stdout="F\nE   assert 17 == 16\n1 failed", stderr="warning: slow"),
            ),
            challenge(
                "c2",
                "NOISE",
                claim="test_calc misses the negative case",
                kind="counterexample",
                file="test_calc.py",
                line=3,
                reason="the command succeeded: the claim does not hold",
                judge=ran(0, stdout="1 passed"),
            ),
            challenge(
                "c3",
                "PARTIAL",
                claim="line_10 should stay untouched",
                kind="regression",
                file="long.py",
                line=10,
                reason="not run: it needs the network",
                evidence=Evidence(shell="curl http://example.com", criterion="the spec says so"),
            ),
            challenge("c4", None, claim=HOSTILE, kind="spec_violation", file="missing.py", line=1),
        ],
    )
    return board


async def open_review(app: CockpitApp, pilot) -> DiffScreen:
    await app.workers.wait_for_complete()
    await pilot.pause()
    select_task(app, TASK)
    await pilot.press("d")
    await until(pilot, lambda: isinstance(app.screen, DiffScreen), what="the review")
    await pilot.pause()
    assert isinstance(app.screen, DiffScreen)
    return app.screen


def rows(panel: ChallengePanel) -> list[str]:
    options = panel.query_one("#challenge-list", OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


def detail(panel: ChallengePanel) -> str:
    """The detail as drawn (its text, without styles)."""
    return panel.query_one("#challenge-detail-text", Static).render().plain  # type: ignore[union-attr]


def notices(app: CockpitApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_the_panel_lists_the_last_rounds_challenges_with_their_labels_and_details(repo: Path) -> None:
    board_with_challenges(repo)
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_review(app, pilot)
        panel = screen.query_one(ChallengePanel)
        assert panel.display and screen.has_class("-challenges")
        assert app.focused is panel.query_one("#challenge-list")
        assert str(panel.border_title) == "challenges · round 2 of 2 · r: earlier"
        assert str(panel.border_subtitle) == "1 VALID · 1 PARTIAL · 1 NOISE · 1 unlabelled"
        listed = rows(panel)
        assert [row.split()[:4] for row in listed] == [
            ["VALID", "c1", "failing_test", "calc.py:70"],
            ["NOISE", "c2", "counterexample", "test_calc.py:3"],
            ["PARTIAL", "c3", "regression", "long.py:10"],
            ["unlabelled", "c4", "spec_violation", "missing.py:1"],
        ]
        assert "helper_16 adds the wrong constant" in listed[0]
        shown = detail(panel)
        assert "Evidence  `pytest -q tests/test_c1.py`" in shown
        assert "Label     VALID by the judge: reproduced: the command failed (exit 1)" in shown
        assert "Judge ran `pytest -q`" in shown and "exit 1 · 0.0 s" in shown
        assert (
            "stdout (tail)\n│ F\n│ E   assert 17 == 16\n│ 1 failed\nstderr (tail)\n│ warning: slow" in shown
        )
        await pilot.press("down", "down")
        shown = detail(panel)
        assert 'Evidence  `curl http://example.com`; criterion: "the spec says so"' in shown
        assert "Judge     ran nothing for it" in shown
        await pilot.press("r")  # the earlier round
        await pilot.pause()
        assert str(panel.border_title) == "challenges · round 1 of 2 · r: earlier"
        assert len(rows(panel)) == 1 and "an old claim from round one" in rows(panel)[0]
        await pilot.press("r")  # round 2 again (wrapping)
        await pilot.press("t")
        await pilot.pause()
        assert not panel.display and not screen.has_class("-challenges")
        await pilot.press("t")
        await pilot.pause()
        assert panel.display


async def test_enter_on_a_challenge_shows_its_file_with_its_line_marked(repo: Path) -> None:
    board_with_challenges(repo)
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_review(app, pilot)
        view = screen.query_one("#diff-view", DiffView)
        assert view.diff is not None and view.diff.path == "calc.py" and view.scroll_y == 0
        row = view.diff.rows_of([70])[70]
        assert view.diff.lines[row] == "+    return x + 16"
        assert row in view.marked_rows  # the gutter marks it before any jump
        assert view.render_line(row).text.startswith("● +    return x + 16")
        assert view.render_line(0).text.startswith("  diff --git a/calc.py b/calc.py")
        await pilot.press("enter")
        await pilot.pause()
        top = round(view.scroll_y)
        assert view.target_row == row and top > 0
        assert top <= row < top + view.scrollable_content_region.height
        assert view.render_line(row - top).text.startswith("▶ +    return x + 16")
        await pilot.press("down", "enter")  # c2: another file
        await pilot.pause()
        assert view.diff.path == "test_calc.py" and view.target_row == view.diff.hunks[0] + 3
        assert screen.query_one("#diff-files", OptionList).highlighted == 2
        await pilot.press("down", "enter")  # c3: long.py shown, line 10 is not in its diff
        await pilot.pause()
        assert view.diff.path == "long.py" and view.target_row is None
        assert "c3: line 10 of long.py is not in the diff; showing the file" in notices(app)
        await pilot.press("down", "enter")  # c4: a file the diff does not touch
        await pilot.pause()
        assert view.diff.path == "long.py"
        assert "c4: missing.py is not in this diff" in notices(app)


async def test_relabelling_noise_valid_writes_the_state_and_redraws_the_panel(repo: Path) -> None:
    board = board_with_challenges(repo)
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_review(app, pilot)
        panel = screen.query_one(ChallengePanel)
        await pilot.press("down", "l")  # c2, NOISE by the judge
        await until(pilot, lambda: isinstance(app.screen, LabelModal), what="the label modal")
        modal = app.screen
        assert isinstance(modal, LabelModal)
        title = modal.query_one("#label-title", Static).render()
        assert str(title) == "Label c2 of round 2 (now NOISE by the judge):"
        assert modal.query_one("#label-choice", OptionList).highlighted == 1  # NOISE
        await pilot.press("home", "enter", *"fails on negative input", "enter")
        await until(pilot, lambda: app.screen is screen, what="the review again")
        await app.workers.wait_for_complete()
        await pilot.pause()
        state = board.read_state(TASK)
        assert state is not None and state.review is not None
        c2 = state.review.rounds[-1].challenges[1]
        assert (c2.label, c2.labelled_by, c2.label_reason) == ("VALID", "human", "fails on negative input")
        assert state.status == TaskStatus.REVIEW
        assert rows(panel)[1].split()[:2] == ["VALID", "c2"]
        assert panel.highlighted is not None and panel.highlighted.id == "c2"  # still on it
        assert "Label     VALID by the human: fails on negative input" in detail(panel)
        assert str(panel.border_subtitle) == "2 VALID · 1 PARTIAL · 0 NOISE · 1 unlabelled"
        assert any(m.startswith("c2 of round 2 labelled VALID by the human") for m in notices(app))
        events = [e for e in board.read_jsonl("events.jsonl") if e.get("kind") == "challenge_labelled"]
        assert [(e["challenge"], e["label"], e["by"]) for e in events] == [("c2", "VALID", "human")]


async def test_a_refused_label_is_said_and_nothing_changes(repo: Path) -> None:
    board = board_with_challenges(repo)
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_review(app, pilot)
        state = board.read_state(TASK)
        assert state is not None and state.review is not None
        state.review.rounds[-1].challenges[0].id = "c1-renamed"  # meanwhile, on the board
        board.write_state(state)
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LabelModal), what="the label modal")
        await pilot.press("enter", "enter")
        await until(pilot, lambda: app.screen is screen, what="the review again")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any("has no challenge 'c1'" in m for m in notices(app))
        assert rows(screen.query_one(ChallengePanel))[0].split()[:2] == ["VALID", "c1-renamed"]


async def test_send_back_starts_from_the_valid_and_partial_challenges(repo: Path) -> None:
    board = board_with_challenges(repo)
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_review(app, pilot)
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, FeedbackModal), what="the feedback modal")
        modal = app.screen
        assert isinstance(modal, FeedbackModal)
        text = modal.query_one("#feedback-text", TextArea).text
        assert "helper_16 adds the wrong constant" in text and "[VALID · failing_test] calc.py:70" in text
        assert "line_10 should stay untouched" in text and "[PARTIAL · regression] long.py:10" in text
        assert "[PARTIAL · spec_violation] missing.py:1" in text  # unlabelled counts as PARTIAL
        assert "test_calc misses the negative case" not in text  # NOISE
        assert "--- BEGIN EXTERNAL CONTENT ---" in text
        modal.query_one("#feedback-text", TextArea).insert("Also keep helper_0.\n", (0, 0))
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
    state = board.read_state(TASK)
    assert state is not None and state.status == TaskStatus.QUEUED
    assert state.pending_feedback is not None and state.pending_feedback.startswith("Also keep helper_0.\n")
    assert "helper_16 adds the wrong constant" in state.pending_feedback


async def test_a_hostile_claim_is_shown_as_data(repo: Path) -> None:
    board_with_challenges(repo)
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_review(app, pilot)
        panel = screen.query_one(ChallengePanel)
        await pilot.press("end")
        await pilot.pause()
        literal = "[bold red]boom[/bold red] and [link=http://x]click[/link]"
        options = panel.query_one("#challenge-list", OptionList)
        prompt = options.get_option_at_index(3).prompt
        assert isinstance(prompt, Text) and literal in prompt.plain and "\x1b" not in prompt.plain
        assert not any("red" in str(span.style) or "link" in str(span.style) for span in prompt.spans)
        shown = detail(panel)
        assert literal in shown and "\x1b" not in shown
        assert "pwned" not in shown  # the title-setting sequence is gone, its text with it
        static = panel.query_one("#challenge-detail-text", Static)
        drawn = "\n".join(strip.text for strip in static.render_lines(Region(0, 0, *static.size)))
        assert "[bold red]boom[/bold red]" in drawn


async def test_a_reviewed_cloud_task_has_the_panel_too(repo: Path) -> None:
    """Best-of-2 back from Codex Cloud, reviewed: the attempts keep the focus, the challenges are beside
    the diff, Enter goes to a line, and not while two attempts are compared."""
    board = Blackboard(repo)
    calc = (repo / "calc.py").read_text() + "\n\ndef multiply(a, b):\n    return a * b\n"
    make_cloud_review_task(
        board, CLOUD_TASK, [{"calc.py": calc}, {"calc.py": calc, "NOTES.md": "multiply\n"}], title="Multiply"
    )
    add_review(board, CLOUD_TASK, [challenge("c1", "VALID", claim="multiply(2, 0) is wrong", line=6)])
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        select_task(app, CLOUD_TASK)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, CloudReviewScreen), what="the cloud review")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CloudReviewScreen)
        panel = screen.query_one(ChallengePanel)
        assert panel.display and rows(panel)[0].split()[:4] == ["VALID", "c1", "failing_test", "calc.py:6"]
        assert isinstance(app.focused, AttemptList)
        panel.query_one("#challenge-list").focus()
        await pilot.press("enter")
        await pilot.pause()
        view = screen.query_one("#diff-view", DiffView)
        assert view.diff is not None and view.diff.path == "calc.py"
        assert view.target_row is not None and view.diff.lines[view.target_row] == "+    return a * b"
        await pilot.press("c", "enter")  # compare, then try to jump
        await pilot.pause()
        assert screen.comparing and "stop comparing (c) to go to a challenge's line" in notices(app)
