"""The product's label store, as a Dagster resource."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from cvops.errors import InputError
from cvops.labels import LabelStore, MatchRecord, MatchTable
from cvops.settings import CvopsPaths
from cvops.tracking.mot import read_mot_detections


class LabelStoreResource(dg.ConfigurableResource):
    """Where annotated matches come from (``CVOPS_LABEL_STORE``; see docs/label-store.md)."""

    root: str | None = None
    """The store folder; unset means ``CVOPS_LABEL_STORE``, read when the resource is used (not at import)."""

    def store(self) -> LabelStore:
        return LabelStore(self.root or CvopsPaths.from_env().label_store)

    def read_matches(self) -> MatchTable:
        return self.store().read_matches()

    def match(self, match_id: str) -> MatchRecord:
        """The valid, annotated record of ``match_id``, or an error saying why it cannot be used."""
        table = self.read_matches()
        record = table.matches.get(match_id)
        if record is None:
            reasons = [e.describe() for e in table.errors if e.match_id == match_id]
            detail = "; ".join(reasons) if reasons else "it is not in the store"
            raise InputError(f"match {match_id!r} cannot be read: {detail}", file=self.store().matches_file)
        if not record.is_annotated:
            raise InputError(
                f"match {match_id!r} has status {record.status!r}, not 'annotated'",
                file=self.store().matches_file,
            )
        return record

    def keyframes(self, match_id: str) -> pd.DataFrame:
        return self.store().read_keyframes(match_id)

    def detections(self, match_id: str) -> pd.DataFrame | None:
        """The product model's detections (``det.txt``, video frames), or None when the match has none."""
        path = self.store().detections_file(match_id)
        return read_mot_detections(path) if path.exists() else None
