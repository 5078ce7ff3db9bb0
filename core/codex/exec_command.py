"""Builds the ``codex exec`` argv for one attempt from the envelope and the attempt's paths.

Always ``--json --skip-git-repo-check -C <workdir> -o <last-message>`` with an explicit sandbox; never
``danger-full-access`` or the bypass flag unless the envelope asked and a decision approved it; the
sandbox network stays closed unless likewise approved. A follow-up attempt resumes the Codex thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cockpit.core.envelope.model import EFFORTS, Envelope, EnvelopeError
from cockpit.core.errors import RefusedError
from cockpit.core.vocabulary import WORKER_SANDBOX

FORBIDDEN_FLAGS = ("--dangerously-bypass-approvals-and-sandbox", "--yolo")


class UnsafeCommand(RefusedError, ValueError):
    """The argv would widen the sandbox without an approved decision."""


@dataclass(frozen=True)
class ExecPlan:
    codex: Path
    workdir: Path
    last_message: Path
    prompt: str
    sandbox: str = WORKER_SANDBOX
    effort: str | None = None
    model: str | None = None
    resume_thread: str | None = None
    network: bool = False
    approved_escalations: frozenset[str] = field(default_factory=frozenset)
    extra_config: tuple[str, ...] = ()

    def argv(self) -> list[str]:
        if (
            self.sandbox == "danger-full-access"
            and "danger-full-access sandbox" not in self.approved_escalations
        ):
            raise UnsafeCommand("danger-full-access needs an approved decision")
        if self.network and "network access" not in self.approved_escalations:
            raise UnsafeCommand("sandbox network access needs an approved decision")
        args = [
            str(self.codex),
            "exec",
            "--json",
            "--skip-git-repo-check",
            "-s",
            self.sandbox,
            "-C",
            str(self.workdir),
            "-o",
            str(self.last_message),
        ]
        args += effort_args(self.effort)  # type: ignore[arg-type]
        if self.model:
            args += ["-m", self.model]
        if self.network:
            args += ["-c", "sandbox_workspace_write.network_access=true"]
        for item in self.extra_config:
            args += ["-c", item]
        if self.resume_thread:
            args += ["resume", self.resume_thread]
        args.append(self.prompt)
        if any(flag in args for flag in FORBIDDEN_FLAGS):
            raise UnsafeCommand("the argv would bypass approvals and the sandbox")
        if self.model is not None and self.model.startswith("-"):
            raise UnsafeCommand(f"model {self.model[:40]!r} reads as an option")
        if any("\x00" in arg for arg in args):
            raise UnsafeCommand("an argument contains a NUL character")
        return args


def plan_for(
    envelope: Envelope,
    *,
    codex: Path,
    workdir: Path,
    last_message: Path,
    prompt: str,
    resume_thread: str | None = None,
    effort: str | None = None,
) -> ExecPlan:
    return ExecPlan(
        codex=codex,
        workdir=workdir,
        last_message=last_message,
        prompt=prompt,
        sandbox=envelope.sandbox,
        effort=effort if effort is not None else envelope.effort,
        model=envelope.model,
        resume_thread=resume_thread,
        network=envelope.network,
    )


def effort_args(effort: str | None) -> list[str]:
    """``codex exec`` arguments for a reasoning effort: ``["-c", 'model_reasoning_effort="high"']``."""
    if effort is None:
        return []
    if effort not in EFFORTS:
        raise EnvelopeError("effort", f"must be one of {', '.join(EFFORTS)} (got {effort!r})")
    return ["-c", f'model_reasoning_effort="{effort}"']
