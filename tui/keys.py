"""Keys a web browser may keep for itself, and the cockpit's way around them.

Served to a browser (``cockpit serve``), the cockpit runs in a terminal the page draws: a key reaches it
only when the browser lets the page have it. Some keys a browser never gives away (a new tab or window,
closing or switching tabs, full screen); others a page may take, but not in every browser (reload, save,
print, quit). Every binding of the cockpit that uses such a key carries a second key no browser takes
(``ctrl+r,R``), and served in a browser that key comes first, so the footer and the palette show it.
A key the user maps in ``[keys]`` to nothing but browser keys is named in a warning there."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Mapping

BROWSER_KEYS: frozenset[str] = frozenset(
    {
        # kept by the browser whatever the page asks
        "ctrl+n",
        "ctrl+t",
        "ctrl+w",
        "ctrl+tab",
        "ctrl+shift+tab",
        "ctrl+pageup",
        "ctrl+pagedown",
        "ctrl+shift+n",
        "ctrl+shift+t",
        "ctrl+shift+w",
        "ctrl+shift+q",
        "f11",
        "f12",
        # a page may take these in some browsers, not in all
        "ctrl+q",
        "ctrl+r",
        "ctrl+shift+r",
        "f5",
        "ctrl+f5",
        "f1",
        "f3",
        "f6",
        "f7",
        "ctrl+l",
        "ctrl+s",
        "ctrl+p",
        "ctrl+f",
        "ctrl+d",
        "ctrl+h",
        "ctrl+j",
        "ctrl+o",
    }
)


def split_keys(keys: str) -> list[str]:
    """A binding's key string (``"ctrl+r,R"``) as its keys, in order."""
    return [k.strip() for k in keys.split(",") if k.strip()]


def browser_safe(keys: Iterable[str]) -> list[str]:
    """The keys a browser leaves to the page."""
    return [k for k in keys if k not in BROWSER_KEYS]


def browser_first(keys: str) -> str:
    """The same keys with those a browser leaves to the page first (the footer shows the first)."""
    listed = split_keys(keys)
    safe = browser_safe(listed)
    return ",".join(safe + [k for k in listed if k not in safe])


def browser_keymap(
    bindings: Mapping[str, str], user_keys: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """The keymap for a cockpit served in a browser, and warnings about the user's own keys.

    ``bindings`` maps binding ids to their default key strings, ``user_keys`` is ``[keys]`` of the
    config. The keymap puts browser-safe keys first for every id (the user's keys where given); a warning
    names each id the user mapped to browser keys only (it then cannot be pressed in a browser)."""
    keymap: dict[str, str] = {}
    warnings: list[str] = []
    for binding_id, keys in {**bindings, **user_keys}.items():
        listed = split_keys(keys)
        if not browser_safe(listed):
            if binding_id in user_keys:
                keymap[binding_id] = keys  # as asked: some browsers may still let it through
                warnings.append(
                    f"{binding_id} = {keys!r}: a browser may keep {' and '.join(listed)} for itself; "
                    "map another key in [keys] to be sure it reaches the cockpit here"
                )
            continue
        ordered = browser_first(keys)
        if ordered != keys or binding_id in user_keys:
            keymap[binding_id] = ordered
    return keymap, warnings


def cockpit_bindings() -> dict[str, str]:
    """Every binding the cockpit declares (the app, its screens and widgets): id -> default keys."""
    from textual.binding import Binding
    from textual.dom import DOMNode

    import cockpit.tui

    for module in pkgutil.walk_packages(cockpit.tui.__path__, "cockpit.tui."):
        importlib.import_module(module.name)
    found: dict[str, str] = {}
    classes: list[type[DOMNode]] = [DOMNode]
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        if not cls.__module__.startswith("cockpit.tui."):
            continue
        for binding in cls.__dict__.get("BINDINGS", []):
            if isinstance(binding, Binding) and binding.id:
                found.setdefault(binding.id, binding.key)
    return found
