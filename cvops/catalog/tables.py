"""Every manifest table the platform writes: its name, columns and whether it is partitioned by match.

This is the single source of truth for the catalog: the DuckDB views, the Parquet schemas and
``docs/catalog.md`` all follow it. Partitioned tables store ``match_id`` in the folder name
(``<table>/match_id=<id>/data.parquet``), not in the file, so re-materialising a match replaces one file.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class TableSpec:
    name: str
    schema: pa.Schema
    partitioned_by_match: bool
    description: str

    @property
    def columns(self) -> list[str]:
        """Columns as seen in the catalog (``match_id`` first for partitioned tables)."""
        names = list(self.schema.names)
        return ["match_id", *names] if self.partitioned_by_match else names


def _spec(name: str, partitioned: bool, description: str, **fields: pa.DataType) -> TableSpec:
    return TableSpec(name, pa.schema(list(fields.items())), partitioned, description)


_TS = pa.timestamp("us", tz="UTC")
_BOX = {"x": pa.float64(), "y": pa.float64(), "w": pa.float64(), "h": pa.float64()}

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        _spec(
            "matches",
            True,
            "The matches.csv row of every match the platform took in (the video address with credentials masked).",
            video=pa.string(),
            fps=pa.string(),
            width=pa.int64(),
            height=pa.int64(),
            n_frames=pa.int64(),
            pitch=pa.string(),
            home_team=pa.string(),
            away_team=pa.string(),
            weather=pa.string(),
            kickoff=_TS,
            annotated_at=_TS,
            status=pa.string(),
        ),
        _spec(
            "raw_labels",
            True,
            "Keyframes interpolated as the product does (label frame numbering).",
            frame=pa.int64(),
            track_id=pa.int64(),
            role=pa.string(),
            **_BOX,
            is_keyframe=pa.bool_(),
        ),
        _spec(
            "label_check_results",
            True,
            "One row per expectation of each label quality check and match.",
            check=pa.string(),
            expectation=pa.string(),
            passed=pa.bool_(),
            severity=pa.string(),
            blocking=pa.bool_(),
            element_count=pa.int64(),
            unexpected_count=pa.int64(),
            observed=pa.string(),
            sample=pa.string(),
            checked_at=_TS,
        ),
        _spec(
            "match_predictions",
            True,
            "The detections used to judge a match's labels (video frames): the production model's or det.txt.",
            frame=pa.int64(),
            **_BOX,
            conf=pa.float64(),
            source=pa.string(),
            role=pa.string(),
        ),
        _spec(
            "model_tracks",
            True,
            "The match's predictions tracked (video frames): pseudo-labels for `cvops export-cvat --from predictions`.",
            frame=pa.int64(),
            track_id=pa.int64(),
            role=pa.string(),
            **_BOX,
            conf=pa.float64(),
        ),
        _spec(
            "review_queue",
            True,
            "The frames and tracks of a match most worth a human's time, ranked, each with why (docs/review.md).",
            rank=pa.int64(),
            kind=pa.string(),
            frame=pa.int64(),
            first_frame=pa.int64(),
            last_frame=pa.int64(),
            track_id=pa.int64(),
            score=pa.float64(),
            detail=pa.string(),
            source=pa.string(),
        ),
        _spec(
            "match_sync",
            True,
            "The sync offset per match: label frame f shows video frame f + offset (offset 0 when not applied).",
            offset=pa.int64(),
            score=pa.float64(),
            score_at_zero=pa.float64(),
            applied=pa.bool_(),
            best_offset=pa.int64(),
            refined_offset=pa.float64(),
        ),
        _spec(
            "label_removals",
            True,
            "Every raw label row the cleaning removed (label frame numbering) and why.",
            frame=pa.int64(),
            track_id=pa.int64(),
            reason=pa.string(),
        ),
        _spec(
            "frame_agreement",
            True,
            "Per video frame: labelled players, those matched by a prediction at IoU >= 0.5, their mean IoU.",
            frame=pa.int64(),
            n_labels=pa.int64(),
            n_matched=pa.int64(),
            mean_iou=pa.float64(),
        ),
        _spec(
            "cleaned_tracks",
            True,
            "Labels after cleaning, in video frame numbering.",
            frame=pa.int64(),
            track_id=pa.int64(),
            role=pa.string(),
            **_BOX,
        ),
        _spec(
            "selected_frames",
            True,
            "Frames kept as dataset samples and the split of their match.",
            frame=pa.int64(),
            split=pa.string(),
        ),
        _spec(
            "frame_exclusions",
            True,
            "Candidate frames that were not kept, with the first rule that dropped each.",
            frame=pa.int64(),
            reason=pa.string(),
        ),
        _spec(
            "match_selection",
            False,
            "Every match's group and split (train, val, excluded) with the reason; only ever grows.",
            match_id=pa.string(),
            group_key=pa.string(),
            split=pa.string(),
            reason=pa.string(),
            detail=pa.string(),
            annotated_at=_TS,
            policy=pa.string(),
        ),
        _spec(
            "frame_samples",
            True,
            "The extracted image of each selected frame in the sample store (content-addressed).",
            frame=pa.int64(),
            sample_key=pa.string(),
            path=pa.string(),
            bytes=pa.int64(),
        ),
        _spec(
            "dataset_versions",
            False,
            "Every dataset version: its git tag and commit, counts, bytes new to the remote, push state, config; "
            "published: data on the DVC remote and tag on the git remote, so others can `dvc get` it.",
            version=pa.int64(),
            tag=pa.string(),
            git_commit=pa.string(),
            created_at=_TS,
            n_samples=pa.int64(),
            n_train=pa.int64(),
            n_val=pa.int64(),
            bytes_new=pa.int64(),
            pushed=pa.bool_(),
            config=pa.string(),
            published=pa.bool_(),
        ),
        _spec(
            "dataset_samples",
            False,
            "The samples of every dataset version (path: the file `cvops dataset files` writes the image to).",
            version=pa.int64(),
            match_id=pa.string(),
            frame=pa.int64(),
            split=pa.string(),
            md5=pa.string(),
            path=pa.string(),
        ),
        _spec(
            "benchmark_samples",
            False,
            "The benchmark's samples (val matches), append-only; a new generation starts only on invalidation.",
            match_id=pa.string(),
            generation=pa.int64(),
            added_at=_TS,
            reason=pa.string(),
        ),
        _spec(
            "benchmark_results",
            True,
            "Per model and benchmark sample: TrackEval's HOTA, DetA, AssA, MOTA, IDF1 and error counts on the clip.",
            model_version=pa.string(),
            generation=pa.int64(),
            hota=pa.float64(),
            deta=pa.float64(),
            assa=pa.float64(),
            mota=pa.float64(),
            idf1=pa.float64(),
            id_switches=pa.int64(),
            fp=pa.int64(),
            fn=pa.int64(),
            num_gt_dets=pa.int64(),
            frames=pa.int64(),
            evaluated_at=_TS,
            stats=pa.string(),
        ),
        _spec(
            "models",
            False,
            "Every model version in the registry, the model it was warm-started from, its stage and its metrics "
            "(JSON).",
            model_version=pa.string(),
            dataset_version=pa.string(),
            parent_model=pa.string(),
            stage=pa.string(),
            created_at=_TS,
            metrics=pa.string(),
        ),
        _spec(
            "learning_curve",
            False,
            "The return on data: every model's weighted error and HOTA on the benchmark samples common to all, "
            "against the size of its dataset version, with the model it was warm-started from.",
            model_version=pa.string(),
            dataset_version=pa.string(),
            parent_model=pa.string(),
            stage=pa.string(),
            train_matches=pa.int64(),
            train_images=pa.int64(),
            samples=pa.int64(),
            weighted_error=pa.float64(),
            hota=pa.float64(),
        ),
    )
}

# The distributions of cvops.drift.stats.DISTRIBUTIONS (a test keeps the two lists equal; importing them here
# would make the catalog depend on the drift package).
_DRIFT_DISTRIBUTIONS = ("players_per_frame", "box_width", "box_height", "box_area", "matched_share", "mean_iou")


def _distribution_fields() -> list[tuple[str, pa.DataType]]:
    fields: list[tuple[str, pa.DataType]] = []
    for name in _DRIFT_DISTRIBUTIONS:
        fields += [
            (f"{name}_n", pa.int64()),
            (f"{name}_mean", pa.float64()),
            (f"{name}_median", pa.float64()),
            (f"{name}_sample", pa.list_(pa.float64())),
        ]
    return fields


_MATCH_STATISTICS = TableSpec(
    name="match_statistics",
    schema=pa.schema(
        [
            ("prediction_source", pa.string()),
            ("annotated_at", _TS),
            ("freshness_days", pa.float64()),
            ("n_frames", pa.int64()),
            ("n_player_boxes", pa.int64()),
            ("candidate_frames", pa.int64()),
            ("kept_frames", pa.int64()),
            ("kept_share", pa.float64()),
            ("agreement_frames", pa.int64()),
            *_distribution_fields(),
        ]
    ),
    partitioned_by_match=True,
    description="Per match: players per frame, player box sizes, share of frames kept, agreement with the "
    "predictions and label freshness; each distribution with its n, mean, median and a sample of its values.",
)

_MATCH_DRIFT = TableSpec(
    name="match_drift",
    schema=pa.schema(
        [
            ("statistic", pa.string()),
            ("test", pa.string()),
            ("status", pa.string()),
            ("drifted", pa.bool_()),
            ("value", pa.float64()),
            ("p_value", pa.float64()),
            ("effect", pa.float64()),
            ("threshold", pa.float64()),
            ("match_value", pa.float64()),
            ("reference_value", pa.float64()),
            ("n_match", pa.int64()),
            ("n_reference", pa.int64()),
            ("reference_matches", pa.int64()),
            ("nearest_match", pa.string()),
            ("nearest_effect", pa.float64()),
            ("message", pa.string()),
            ("checked_at", _TS),
        ]
    ),
    partitioned_by_match=True,
    description="One row per statistic of the latest drift check of each match: test, p-value, effect size, "
    "threshold, verdict and a one-line message.",
)

TABLES[_MATCH_STATISTICS.name] = _MATCH_STATISTICS
TABLES[_MATCH_DRIFT.name] = _MATCH_DRIFT
