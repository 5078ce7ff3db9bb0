"""Keys a browser keeps for itself: every binding of the cockpit that uses one has another key, which
comes first (shown in the footer and the palette) when the cockpit is served to a browser, and a key of
the user's that only a browser key reaches is named in a warning."""

from __future__ import annotations

from cockpit.tui.keys import BROWSER_KEYS, browser_first, browser_keymap, cockpit_bindings, split_keys


def test_every_binding_with_a_browser_key_has_another_key() -> None:
    bindings = cockpit_bindings()
    assert {"app.quit", "app.palette", "diff.approve", "form.submit", "dlq.refresh"} <= set(bindings)
    for binding_id, keys in bindings.items():
        listed = split_keys(keys)
        assert [k for k in listed if k not in BROWSER_KEYS], f"{binding_id} ({keys}): only browser keys"
    clashing = {i for i, keys in bindings.items() if set(split_keys(keys)) & BROWSER_KEYS}
    assert clashing == {
        "app.palette",
        "form.submit",
        "feedback.send",
        "dlq.refresh",
        "usage.refresh",
        "breakers.refresh",
    }


def test_served_to_a_browser_the_free_key_comes_first() -> None:
    assert browser_first("ctrl+r,R") == "R,ctrl+r"
    assert browser_first("a") == "a"
    keymap, warnings = browser_keymap(cockpit_bindings(), {})
    assert keymap == {
        "app.palette": "f2,ctrl+p",
        "form.submit": "f4,ctrl+s",
        "feedback.send": "f4,ctrl+s",
        "dlq.refresh": "R,ctrl+r",
        "usage.refresh": "R,ctrl+r",
        "breakers.refresh": "R,ctrl+r",
    }
    assert warnings == []


def test_a_user_key_only_a_browser_would_get_is_kept_and_named() -> None:
    keymap, warnings = browser_keymap(
        {"app.new_task": "n", "diff.approve": "a"}, {"app.new_task": "ctrl+n", "diff.approve": "A"}
    )
    assert keymap == {"app.new_task": "ctrl+n", "diff.approve": "A"}
    (warning,) = warnings
    assert warning.startswith("app.new_task = 'ctrl+n': a browser may keep ctrl+n")
