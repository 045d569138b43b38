"""The model registry: versions of the trained model, their cards, and which one is in production.

Each version keeps its checkpoint, its TorchScript export and its card; stages move between ``candidate``,
``production`` (exactly one at a time) and ``archived``. Every change appends to the audit log and rewrites the
index in one transaction (see :mod:`cvops.registry.state` for the rules, :mod:`cvops.registry.storage` for the
files), then rewrites the catalog table ``models`` so ``cvops sql "SELECT * FROM models"`` shows the registry.

``production.json`` at the registry's root is the stable pointer an application polls: the production model's
version and the paths and checksums of its files, relative to the root. Promotions and rollbacks replace it in
one atomic write (a rename on a local folder, a single PUT on S3), so a reader sees the old pointer or the new one.
"""

from __future__ import annotations

import builtins
import getpass
import json
import os
import socket
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from cvops.catalog.manifests import ManifestTables
from cvops.errors import InputError
from cvops.registry.card import ModelCard, render_card_markdown
from cvops.registry.state import (
    AuditEntry,
    Decision,
    ModelVersion,
    RegistryError,
    RegistryState,
    Stage,
    decide_promote,
    decide_register,
    decide_reject,
    decide_rollback,
    decide_set_stage,
)
from cvops.registry.storage import LocalStorage, RegistryStorage, sha256_of
from cvops.s3 import S3Settings

CARD_JSON = "card.json"
CARD_MD = "card.md"
TORCHSCRIPT_FILE = "model.torchscript.pt"
PRODUCTION_POINTER = "production.json"
MODELS_TABLE = "models"
_MAX_ATTEMPTS = 20


def default_actor() -> str:
    """Who is making a change: ``$CVOPS_ACTOR`` if set (a CI job, a Dagster run), else ``user@host``."""
    if actor := os.environ.get("CVOPS_ACTOR"):
        return actor
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no passwd entry for the uid (some containers)
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


class IncompleteChangeError(RegistryError):
    """The change is committed (it is in the audit log) but the index or the catalog could not be rewritten."""


class _AlreadyRegistered(Exception):
    """Raised by a registration's decision when the same files are already registered (by another writer)."""

    def __init__(self, version: ModelVersion) -> None:
        super().__init__(version.version)
        self.version = version


class ModelRegistry:
    """A registry rooted at a local folder or an ``s3://bucket/prefix`` (see :func:`open_registry`)."""

    def __init__(
        self,
        storage: RegistryStorage,
        manifests: ManifestTables | None = None,
        actor: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.storage = storage
        self.manifests = manifests
        self.actor = actor or default_actor()
        self._clock = clock

    # -- reading ---------------------------------------------------------------------------------------------

    def state(self) -> RegistryState:
        """The current state: the index plus any audit entries a writer appended but did not index yet."""
        state = self.storage.read_index() or RegistryState()
        for entry in self.storage.read_audit(after_seq=state.audit_seq):
            state = state.apply(entry)
        return state

    def list(self, stage: Stage | str | None = None) -> builtins.list[ModelVersion]:
        """Every version, oldest first (only those in ``stage`` if given).

        (Annotations in this class say ``builtins.list``: inside it, ``list`` is this method.)"""
        state = self.state()
        versions = [state.versions[v] for v in state.sorted_ids()]
        return versions if stage is None else [v for v in versions if v.stage is Stage(stage)]

    def get(self, version: str) -> ModelVersion:
        return self.state().get(version)

    def production(self) -> ModelVersion | None:
        return self.state().production()

    def checkpoint_path(self, version: str) -> Path:
        v = self.get(version)
        return self.storage.local_path(v.folder, v.checkpoint_file, v.checkpoint_sha256)

    def torchscript_path(self, version: str) -> Path:
        v = self.get(version)
        return self.storage.local_path(v.folder, v.torchscript_file, v.torchscript_sha256)

    def lineage(self, version: str) -> builtins.list[ModelVersion]:
        """``version``, its parent model, the parent's parent, ... back to a model trained from scratch."""
        state = self.state()
        chain = [state.get(version)]
        while chain[-1].card.parent_model is not None:
            parent = state.get(chain[-1].card.parent_model)
            if parent in chain:
                raise RegistryError(f"the parent models of {version} form a cycle at {parent.version}")
            chain.append(parent)
        return chain

    def card_markdown(self, version: str) -> str:
        v = self.get(version)
        return self.storage.read_text(v.folder, CARD_MD)

    def production_pointer(self) -> dict[str, Any] | None:
        """What ``production.json`` says (``None`` before the first promotion): what an application polls."""
        try:
            return json.loads(self.storage.read_text("", PRODUCTION_POINTER))
        except (FileNotFoundError, RegistryError):
            return None

    def audit_log(self) -> builtins.list[dict[str, Any]]:
        """Every change ever made, oldest first: seq, at, who, action, version, reason, from, to, changes."""
        return [entry.to_dict() for entry in self.storage.read_audit()]

    # -- changing --------------------------------------------------------------------------------------------

    def register(self, checkpoint: Path, torchscript: Path, card: ModelCard, reason: str = "trained") -> ModelVersion:
        """Add a candidate version holding copies of ``checkpoint`` and ``torchscript``, described by ``card``.

        Registering the same two files for the same dataset version again returns the existing version, so a
        re-run of a deterministic training does not grow the registry.
        """
        checkpoint, torchscript = Path(checkpoint), Path(torchscript)
        for name, path in (("checkpoint", checkpoint), ("torchscript", torchscript)):
            if not path.is_file():
                raise InputError(f"the {name} file does not exist", file=path, field=name)
        checkpoint_file = "checkpoint" + (checkpoint.suffix or ".bin")
        digests = (sha256_of(checkpoint), sha256_of(torchscript))
        existing = _same_model(self.state(), card, digests)
        if existing is not None:
            return existing
        token = self.storage.stage({checkpoint_file: checkpoint, TORCHSCRIPT_FILE: torchscript})
        published: list[str] = []

        def decide(state: RegistryState) -> Decision:
            same = _same_model(state, card, digests)
            if same is not None:
                raise _AlreadyRegistered(same)
            version_id = state.next_version_id(self.storage.taken_folders())
            published.append(self.storage.publish(token, version_id))
            version = ModelVersion(
                version=version_id,
                stage=Stage.CANDIDATE,
                card=card,
                folder=published[-1],
                checkpoint_file=checkpoint_file,
                torchscript_file=TORCHSCRIPT_FILE,
                checkpoint_sha256=digests[0],
                torchscript_sha256=digests[1],
                registered_at=self._clock(),
            )
            self._write_card(version)
            return decide_register(version, reason)

        try:
            _, entry = self._transact(decide)
        except _AlreadyRegistered as already:
            self.storage.discard(token)
            return already.version
        except IncompleteChangeError:
            raise
        except Exception:
            self._discard_unless_registered(token, published)
            raise
        registered = entry.decision.registered
        assert registered is not None
        return registered

    def promote(self, version: str, reason: str) -> ModelVersion:
        """Make ``version`` the production model, archiving the current one (which ``rollback`` can restore)."""
        state, _ = self._transact(lambda s: decide_promote(s, version, reason))
        return state.get(version)

    def rollback(self, reason: str) -> ModelVersion:
        """Restore the production model archived by the last promotion; return it."""
        state, entry = self._transact(lambda s: decide_rollback(s, reason))
        return state.get(entry.decision.version)

    def reject(self, version: str, reason: str) -> ModelVersion:
        """Record a decision not to promote a candidate (it stays a candidate, the reason is in the audit log)."""
        state, _ = self._transact(lambda s: decide_reject(s, version, reason))
        return state.get(version)

    def set_stage(self, version: str, stage: Stage | str, reason: str) -> ModelVersion:
        """Move a version by hand; to ``production`` this is :meth:`promote`."""
        target = Stage(stage)
        state, _ = self._transact(lambda s: decide_set_stage(s, version, target, reason))
        return state.get(version)

    def write_catalog(self) -> None:
        """Rewrite the ``models`` table and the production pointer from the current state (done after every
        change; call it to repair them after an :class:`IncompleteChangeError`)."""
        state = self.state()
        entries = self.storage.read_audit(after_seq=state.audit_seq - 1) if state.audit_seq else []
        if entries:
            self._write_pointer(state, entries[-1])
        if self.manifests is not None:
            self.manifests.write(MODELS_TABLE, models_frame(state))

    # -- internals -------------------------------------------------------------------------------------------

    def _transact(self, decide: Callable[[RegistryState], Decision]) -> tuple[RegistryState, AuditEntry]:
        """Decide on the current state, append the entry, index the new state and update the catalog.

        Local registries hold the lock throughout, so the first attempt always wins; on S3 another writer may
        take the sequence number first, and the decision is made again on the newer state.
        """
        for _ in range(_MAX_ATTEMPTS):
            with self.storage.locked():
                state = self.state()
                entry = AuditEntry(seq=state.audit_seq + 1, at=self._clock(), actor=self.actor, decision=decide(state))
                if not self.storage.append_audit(entry):
                    continue
                new_state = state.apply(entry)
                try:
                    self.storage.write_index(new_state)
                    if new_state.production() != state.production():
                        self._write_pointer(new_state, entry)
                    if self.manifests is not None:
                        self.manifests.write(MODELS_TABLE, models_frame(new_state))
                except Exception as exc:
                    raise IncompleteChangeError(
                        f"{entry.decision.action} of {entry.decision.version} is recorded in the audit log of "
                        f"{self.storage.uri}, but updating the index, the production pointer or the catalog failed "
                        f"({exc}); ModelRegistry.write_catalog() brings them up to date"
                    ) from exc
                return new_state, entry
        raise RegistryError(f"{self.storage.uri}: gave up after {_MAX_ATTEMPTS} conflicting concurrent changes")

    def _write_pointer(self, state: RegistryState, entry: AuditEntry) -> None:
        production = state.production()
        pointer: dict[str, Any] = {"model_version": None, "audit_seq": entry.seq, "changed_at": entry.at.isoformat()}
        if production is not None:
            pointer |= {
                "model_version": production.version,
                "dataset_version": production.card.dataset_version,
                "folder": production.folder,
                "files": {
                    "torchscript": f"{production.folder}/{production.torchscript_file}",
                    "checkpoint": f"{production.folder}/{production.checkpoint_file}",
                    "card": f"{production.folder}/{CARD_JSON}",
                },
                "sha256": {
                    "torchscript": production.torchscript_sha256,
                    "checkpoint": production.checkpoint_sha256,
                },
                "reason": entry.decision.reason,
            }
        self.storage.write_text("", PRODUCTION_POINTER, json.dumps(pointer, indent=2, sort_keys=True) + "\n")

    def _write_card(self, version: ModelVersion) -> None:
        card = {"version": version.version, "files": version.files, **version.card.to_dict()}
        self.storage.write_text(version.folder, CARD_JSON, json.dumps(card, indent=2, sort_keys=True) + "\n")
        self.storage.write_text(
            version.folder, CARD_MD, render_card_markdown(version.version, version.card, version.files)
        )

    def _discard_unless_registered(self, token: str, published: Sequence[str]) -> None:
        """Remove a failed registration's staged files, unless the failure came after the version was recorded
        (an S3 write can fail on the way back after it succeeded): then the files belong to a real version."""
        if published:
            try:
                state = self.state()
            except Exception:
                return
            if any(v.folder in published for v in state.versions.values()):
                return
        self.storage.discard(token)


def _same_model(state: RegistryState, card: ModelCard, digests: tuple[str, str]) -> ModelVersion | None:
    for version in state.versions.values():
        if (version.checkpoint_sha256, version.torchscript_sha256) == digests and (
            version.card.dataset_version == card.dataset_version
        ):
            return version
    return None


def models_frame(state: RegistryState) -> pd.DataFrame:
    """The catalog table ``models``: one row per version, metrics as JSON text."""
    versions = [state.versions[v] for v in state.sorted_ids()]
    return pd.DataFrame(
        {
            "model_version": pd.Series([v.version for v in versions], dtype="string"),
            "dataset_version": pd.Series([v.card.dataset_version for v in versions], dtype="string"),
            "parent_model": pd.Series([v.card.parent_model for v in versions], dtype="string"),
            "stage": pd.Series([v.stage.value for v in versions], dtype="string"),
            "created_at": pd.to_datetime([v.card.created_at for v in versions], utc=True),
            "metrics": pd.Series([json.dumps(v.card.metrics, sort_keys=True) for v in versions], dtype="string"),
        }
    )


def open_registry(
    root: str | Path,
    manifests: ManifestTables | None = None,
    *,
    actor: str | None = None,
    cache_dir: str | Path | None = None,
    s3: S3Settings | None = None,
) -> ModelRegistry:
    """A registry at a local folder, or at ``s3://bucket/prefix`` (files are downloaded to ``cache_dir``)."""
    root_text = str(root)
    if root_text.startswith("s3://"):
        from cvops.registry.s3 import S3Storage  # boto3 is only imported for S3 roots

        if cache_dir is None:
            raise RegistryError("an S3 registry needs a local cache folder for the files it downloads")
        storage: RegistryStorage = S3Storage(root_text, cache_dir=Path(cache_dir), s3=s3)
    else:
        storage = LocalStorage(root_text)
    return ModelRegistry(storage, manifests, actor=actor)
