"""The model registry: versioned models with their cards, stages and an audit log (see ``docs/registry.md``).

``open_registry(CvopsPaths.from_env().models, Manifests(...))`` is all a notebook needs.
"""

from cvops.provenance import current_git_commit
from cvops.registry.card import ModelCard, render_card_markdown
from cvops.registry.registry import (
    IncompleteChangeError,
    ModelRegistry,
    default_actor,
    models_frame,
    open_registry,
)
from cvops.registry.state import ModelVersion, RegistryError, RegistryState, Stage
from cvops.registry.storage import LocalStorage

__all__ = [
    "IncompleteChangeError",
    "LocalStorage",
    "ModelCard",
    "ModelRegistry",
    "ModelVersion",
    "RegistryError",
    "RegistryState",
    "Stage",
    "current_git_commit",
    "default_actor",
    "models_frame",
    "open_registry",
    "render_card_markdown",
]
