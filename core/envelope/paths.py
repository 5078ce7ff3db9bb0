"""Where an envelope may point: input and output paths confined to the repository, and the secrets
deny list (``~/.ssh``, ``.env``, ``credentials.*`` …) kept away from workers."""

from __future__ import annotations

import os
from fnmatch import fnmatchcase
from pathlib import Path

from cockpit.core.envelope.model import Envelope, EnvelopeError, InputRef, OutputSpec

DENY_HOME_DIRS: tuple[str, ...] = ("~/.ssh", "~/.gnupg", "~/.aws", "~/.config/gh")
_DENY_DIR_PARTS: tuple[tuple[str, ...], ...] = ((".ssh",), (".gnupg",), (".aws",), (".config", "gh"))
DENY_BASENAMES: tuple[str, ...] = ("*.env", ".env", ".env.*", "credentials.*", "secrets.*")
_PROTECTED_OUTPUT_DIRS: tuple[str, ...] = (".git", ".cockpit")


def _matches_deny_list(path: Path, home: Path) -> bool:
    parts = path.parts
    for denied in DENY_HOME_DIRS:
        base = home / denied.removeprefix("~/")
        if path == base or base in path.parents:
            return True
    for seq in _DENY_DIR_PARTS:
        n = len(seq)
        if any(tuple(parts[i : i + n]) == seq for i in range(len(parts) - n + 1)):
            return True
    name = path.name.lower()
    return any(fnmatchcase(name, pattern) for pattern in DENY_BASENAMES)


def _confine(raw: str, root: Path, home: Path, field: str) -> Path:
    candidate = Path(os.path.expanduser(raw))
    if not candidate.is_absolute():
        candidate = root / candidate
    lexical = Path(os.path.normpath(candidate))
    resolved = candidate.resolve(strict=False)
    if _matches_deny_list(lexical, home) or _matches_deny_list(resolved, home):
        raise EnvelopeError(field, f"on the deny list (secrets): {raw}")
    for p in (lexical, resolved):
        if p != root and root not in p.parents:
            raise EnvelopeError(field, f"outside the repository: {raw}")
    return resolved


def check_paths(env: Envelope, repo_root: Path) -> Envelope:
    """Confine the envelope's paths to ``repo_root``; return a copy with absolute, resolved paths.

    Each input path and the output path, relative to the repository root or absolute, must stay inside
    the repository after ``..`` and symlinks are resolved, and must not match the secrets deny list
    (``~/.ssh``, ``~/.gnupg``, ``~/.aws``, ``~/.config/gh``, ``*.env``, ``.env``, ``credentials.*``,
    ``secrets.*``). The output path may not be the repository root or lie in ``.git/`` or ``.cockpit/``.
    Inputs need not exist (a worker may be asked to create them); see :func:`missing_inputs`.
    """
    root = Path(repo_root).resolve(strict=False)
    home = Path.home().resolve(strict=False)
    inputs = [
        InputRef(path=str(_confine(ref.path, root, home, f"inputs.{i}.path")), summary=ref.summary)
        for i, ref in enumerate(env.inputs)
    ]
    output = env.output
    if output is not None:
        target = _confine(output.path, root, home, "output.path")
        if target == root:
            raise EnvelopeError("output.path", f"is the repository root: {output.path}")
        first = target.relative_to(root).parts[0]
        if first in _PROTECTED_OUTPUT_DIRS:
            raise EnvelopeError("output.path", f"inside {first}/, which workers may not write: {output.path}")
        output = OutputSpec(path=str(target), format=output.format)
    return env.model_copy(update={"inputs": inputs, "output": output})


def missing_inputs(env: Envelope, repo_root: Path) -> list[str]:
    """Input paths (relative to ``repo_root`` unless absolute) that do not exist; warnings, not errors."""
    root = Path(repo_root)
    missing: list[str] = []
    for ref in env.inputs:
        p = Path(os.path.expanduser(ref.path))
        if not (p if p.is_absolute() else root / p).exists():
            missing.append(ref.path)
    return missing
