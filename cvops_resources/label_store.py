"""The product's label store, as a Dagster resource."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from cvops.labels import LabelStore
from cvops.settings import CvopsPaths


class LabelStoreResource(dg.ConfigurableResource):
    """Where annotated matches come from (see docs/label-store.md)."""

    root: str | None = Field(
        default=None, description="The label store folder; unset: CVOPS_LABEL_STORE (read when used, not at import)."
    )

    def get_store(self) -> LabelStore:
        return LabelStore(self.root or CvopsPaths.from_env().label_store)
