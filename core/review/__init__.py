"""Cross-family review and the challenge loop: a reviewer from another model family reads what Codex
wrote and challenges it with testable evidence; the cockpit is the judge that cannot be talked round.

UI-free: nothing here starts a process or decides when a round runs (the supervisor's review phase,
:mod:`cockpit.core.supervisor.review`, does, through :mod:`cockpit.core.attempts.review_runner`). One
module per concern:

    reviewer   the reviewer's run: Claude Code's headless command line (read, search and test runners
               only), its environment additions, its prompt of paths and the inputs it reads
    verdict    the block the reviewer must end with (REVIEW_FORMAT) and its lenient reader
               (parse_verdict → Verdict | VerdictError: no readable verdict is never a pass)
    judge      each challenge's command run in Codex's sandbox, in a throw-away checkout of the reviewed
               commit, and labelled VALID / NOISE / PARTIAL from what happened (judge_challenges)
    retreat    test weakening found in the task's diff: VALID validation_retreat challenges
               (find_retreat, retreat_for) unless the envelope allows test changes
    rounds     what a judged round leads to (decide): converged, send back with feedback, the soft and
               hard caps, a stall raising the effort; who may relabel (set_label); the reviewer's
               substantive rate (reviewer_health)

A round, end to end (the records are :mod:`cockpit.core.records.review`)::

    parsed = parse_verdict(reviewer_final_text)
    rnd = ReviewRound(n=..., attempt=..., head_commit=..., reviewer=ReviewerRun(...))
    if isinstance(parsed, VerdictError):
        rnd.failure = str(parsed)                        # verdict stays "none"
    else:
        rnd.verdict, rnd.summary = parsed.verdict, parsed.summary
        rnd.dropped, rnd.unreadable = parsed.dropped, parsed.unreadable
        found = parsed.challenges + retreat_for(diff_patch_text, envelope)
        rnd.challenges = judge_challenges(found, repo=..., head_commit=..., work_dir=..., codex=...,
                                          timeout_s=config.review.evidence_timeout_s)
    state.rounds.append(rnd)
    decision = decide(state, acceptance_passed=..., effort=..., soft_cap=..., hard_cap=...)
    rnd.decision, state.status = decision.reason, decision.status
"""
