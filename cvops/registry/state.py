"""The registry's state machine: versions, stages and the decisions that move them, as pure functions.

Every change is an :class:`AuditEntry` that lists the stage changes it makes. The index is the result of applying
the audit log's entries in order, so a writer that dies between appending an entry and rewriting the index loses
nothing: the next reader applies the entries the index does not reflect yet (see ``RegistryState.audit_seq``).
Keeping the rules here, free of any storage, lets the local-folder and S3 registries share them exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from cvops.errors import CvopsError
from cvops.registry.card import ModelCard

VERSION_PATTERN = re.compile(r"^m(\d{4,})$")


class RegistryError(CvopsError):
    """A registry operation that cannot be done as asked (unknown version, nothing to roll back to, ...)."""


class Stage(StrEnum):
    CANDIDATE = "candidate"
    PRODUCTION = "production"
    ARCHIVED = "archived"


def version_number(version: str) -> int:
    match = VERSION_PATTERN.match(version)
    if match is None:
        raise RegistryError(f"{version!r} is not a model version id (expected m0001, m0002, ...)")
    return int(match.group(1))


def format_version(number: int) -> str:
    return f"m{number:04d}"


@dataclass(frozen=True)
class ModelVersion:
    """One registered model: its card, its files (relative to its folder) and where it stands."""

    version: str
    stage: Stage
    card: ModelCard
    folder: str
    """The version's folder, relative to the registry root."""
    checkpoint_file: str
    torchscript_file: str
    checkpoint_sha256: str
    torchscript_sha256: str
    registered_at: datetime

    @property
    def files(self) -> dict[str, str]:
        """File name -> sha256, as printed on the card."""
        return {self.checkpoint_file: self.checkpoint_sha256, self.torchscript_file: self.torchscript_sha256}

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "stage": self.stage.value,
            "folder": self.folder,
            "checkpoint_file": self.checkpoint_file,
            "torchscript_file": self.torchscript_file,
            "checkpoint_sha256": self.checkpoint_sha256,
            "torchscript_sha256": self.torchscript_sha256,
            "registered_at": self.registered_at.isoformat(),
            "card": self.card.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelVersion:
        return cls(
            version=data["version"],
            stage=Stage(data["stage"]),
            card=ModelCard.from_dict(data["card"]),
            folder=data["folder"],
            checkpoint_file=data["checkpoint_file"],
            torchscript_file=data["torchscript_file"],
            checkpoint_sha256=data["checkpoint_sha256"],
            torchscript_sha256=data["torchscript_sha256"],
            registered_at=datetime.fromisoformat(data["registered_at"]),
        )


@dataclass(frozen=True)
class StageChange:
    version: str
    from_stage: Stage | None
    """``None`` when the version is being registered."""
    to_stage: Stage

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "from": self.from_stage.value if self.from_stage else None,
            "to": self.to_stage.value,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageChange:
        return cls(data["version"], Stage(data["from"]) if data["from"] else None, Stage(data["to"]))


@dataclass(frozen=True)
class Decision:
    """What an operation decided, before it is stamped with its sequence number, time and actor."""

    action: str
    version: str
    reason: str
    changes: tuple[StageChange, ...] = ()
    registered: ModelVersion | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log: who did what to which version, when, why, and the stage changes it made."""

    seq: int
    at: datetime
    actor: str
    decision: Decision

    def to_dict(self) -> dict[str, Any]:
        d = self.decision
        main = next((c for c in d.changes if c.version == d.version), None)
        entry: dict[str, Any] = {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "who": self.actor,
            "action": d.action,
            "version": d.version,
            "reason": d.reason,
            "from": main.from_stage.value if main and main.from_stage else None,
            "to": main.to_stage.value if main else None,
            "changes": [c.to_dict() for c in d.changes],
        }
        if d.registered is not None:
            entry["registered"] = d.registered.to_dict()
        return entry

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditEntry:
        registered = data.get("registered")
        decision = Decision(
            action=data["action"],
            version=data["version"],
            reason=data.get("reason", ""),
            changes=tuple(StageChange.from_dict(c) for c in data.get("changes", [])),
            registered=ModelVersion.from_dict(registered) if registered else None,
        )
        return cls(seq=int(data["seq"]), at=datetime.fromisoformat(data["at"]), actor=data["who"], decision=decision)


@dataclass(frozen=True)
class RegistryState:
    """The index: every version and its stage, the productions a rollback can return to, and how many audit
    entries this state reflects."""

    versions: dict[str, ModelVersion] = field(default_factory=dict)
    rollback_stack: tuple[str, ...] = ()
    """Productions archived by promotions, most recent last: ``rollback`` returns to the last one."""
    audit_seq: int = 0

    def get(self, version: str) -> ModelVersion:
        version_number(version)
        try:
            return self.versions[version]
        except KeyError:
            known = ", ".join(self.sorted_ids()) or "none"
            raise RegistryError(f"unknown model version {version!r} (registered: {known})") from None

    def sorted_ids(self) -> list[str]:
        return sorted(self.versions, key=version_number)

    def production(self) -> ModelVersion | None:
        found = [v for v in self.versions.values() if v.stage is Stage.PRODUCTION]
        if len(found) > 1:
            raise RegistryError(f"corrupt registry index: several production versions {[v.version for v in found]}")
        return found[0] if found else None

    def next_version_id(self, taken: set[str] | frozenset[str] = frozenset()) -> str:
        """One past the highest id in use, counting folders left behind by a writer that died (``taken``)."""
        numbers = [version_number(v) for v in {*self.versions, *taken} if VERSION_PATTERN.match(v)]
        return format_version(max(numbers, default=0) + 1)

    def apply(self, entry: AuditEntry) -> RegistryState:
        """The state after ``entry`` (which must be the next one in sequence)."""
        if entry.seq != self.audit_seq + 1:
            raise RegistryError(f"audit entry {entry.seq} does not follow the index (at entry {self.audit_seq})")
        d = entry.decision
        versions = dict(self.versions)
        if d.registered is not None:
            versions[d.registered.version] = d.registered
        for change in d.changes:
            versions[change.version] = replace(versions[change.version], stage=change.to_stage)
        stack = list(self.rollback_stack)
        if d.action == "promote":
            stack += [c.version for c in d.changes if c.from_stage is Stage.PRODUCTION and c.version != d.version]
        elif d.action == "rollback":
            while stack and stack.pop() != d.version:
                pass
        return RegistryState(versions=versions, rollback_stack=tuple(stack), audit_seq=entry.seq)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": 1,
            "audit_seq": self.audit_seq,
            "rollback_stack": list(self.rollback_stack),
            "versions": [self.versions[v].to_dict() for v in self.sorted_ids()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegistryState:
        versions = {v["version"]: ModelVersion.from_dict(v) for v in data.get("versions", [])}
        return cls(versions=versions, rollback_stack=tuple(data.get("rollback_stack", [])), audit_seq=data["audit_seq"])


def decide_register(version: ModelVersion, reason: str) -> Decision:
    change = StageChange(version.version, None, Stage.CANDIDATE)
    return Decision("register", version.version, reason, (change,), version)


def decide_promote(state: RegistryState, version: str, reason: str) -> Decision:
    """Make ``version`` the production model; the previous production is archived and can be rolled back to."""
    target = state.get(version)
    if target.stage is Stage.PRODUCTION:
        raise RegistryError(f"model {version} is already in production")
    changes = []
    current = state.production()
    if current is not None:
        changes.append(StageChange(current.version, Stage.PRODUCTION, Stage.ARCHIVED))
    changes.append(StageChange(version, target.stage, Stage.PRODUCTION))
    return Decision("promote", version, reason, tuple(changes))


def decide_rollback(state: RegistryState, reason: str) -> Decision:
    """Restore the production model that the last promotion archived, archiving the current one."""
    current = state.production()
    stack = [v for v in state.rollback_stack if current is None or v != current.version]
    if not stack:
        raise RegistryError(
            "nothing to roll back to: no promotion has replaced a production model yet"
            + (f" (current production: {current.version})" if current else " (and there is no production model)")
        )
    target = state.get(stack[-1])
    changes = []
    if current is not None:
        changes.append(StageChange(current.version, Stage.PRODUCTION, Stage.ARCHIVED))
    changes.append(StageChange(target.version, target.stage, Stage.PRODUCTION))
    return Decision("rollback", target.version, reason, tuple(changes))


def decide_reject(state: RegistryState, version: str, reason: str) -> Decision:
    """Record that a candidate was looked at and not promoted; it stays a candidate (the audit entry says
    ``from: candidate, to: candidate``)."""
    target = state.get(version)
    if target.stage is not Stage.CANDIDATE:
        raise RegistryError(f"only a candidate can be rejected; model {version} is {target.stage.value}")
    return Decision("reject", version, reason, (StageChange(version, Stage.CANDIDATE, Stage.CANDIDATE),))


def decide_set_stage(state: RegistryState, version: str, stage: Stage, reason: str) -> Decision:
    """Move a version to ``stage`` by hand; moving to production is a promotion (one production at a time)."""
    if stage is Stage.PRODUCTION:
        return decide_promote(state, version, reason)
    target = state.get(version)
    if target.stage is stage:
        raise RegistryError(f"model {version} is already {stage.value}")
    return Decision("set_stage", version, reason, (StageChange(version, target.stage, stage),))
