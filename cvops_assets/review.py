"""The review queue of each match, and the production model's tracks it is built from (docs/review.md)."""

import base64
from fractions import Fraction

import dagster as dg
import numpy as np
import pandas as pd

from cvops.review import ReviewQueueConfig, labels_vs_model_queue, model_only_queue, track_predictions
from cvops.video import render_preview
from cvops_assets.catalog_tables import label_store, table_asset
from cvops_assets.run_config import run_config
from cvops_resources import CatalogResource, LabelStoreResource, VideoResource

ReviewQueueRunConfig = run_config(ReviewQueueConfig)
PREVIEW_ITEMS = 4


@dg.multi_asset(
    name="review_queue",
    specs=[
        table_asset("model_tracks", deps=["match_predictions", "matches", label_store], group_name="review"),
        table_asset(
            "review_queue",
            deps=["match_predictions", "cleaned_tracks", "frame_agreement", "matches", label_store],
            group_name="review",
        ),
    ],
    description="Tracks the match's predictions (the pseudo-labels of `cvops export-cvat --from predictions`) and "
    "ranks what is most worth a human's time: where labels and model disagree most for an annotated match, "
    "where the model is least sure for one awaiting annotation. A preview shows the top items.",
)
def review_queue(
    context: dg.AssetExecutionContext,
    config: ReviewQueueRunConfig,
    label_store: LabelStoreResource,
    catalog: CatalogResource,
    video: VideoResource,
):
    match_id = context.partition_key
    settings: ReviewQueueConfig = config.to_domain()
    store, tables = label_store.get_store(), catalog.get_catalog()
    record = store.match(match_id)
    fps = float(Fraction(record.fps))
    predictions = tables.read("match_predictions", match_id)
    source = str(predictions["source"].iloc[0]) if len(predictions) else "none"
    tracks = track_predictions(predictions, _looked_at(predictions))
    if record.is_annotated:
        labels = tables.read("cleaned_tracks", match_id)
        queue = labels_vs_model_queue(
            labels,
            predictions,
            tables.read("frame_agreement", match_id),
            fps=fps,
            source=f"labels vs {source}",
            config=settings,
        )
    else:
        labels = tracks
        queue = model_only_queue(tracks, predictions, fps=fps, source=source, config=settings)
    tables.write("model_tracks", tracks, match_id)
    tables.write("review_queue", queue, match_id)

    metadata: dict[str, object] = {
        "items": len(queue),
        "by_kind": dg.MetadataValue.json(queue["kind"].value_counts().to_dict()),
        "source": source,
        "dagster/row_count": len(queue),
    }
    if len(queue):
        top = queue.head(PREVIEW_ITEMS)
        metadata["top"] = dg.MetadataValue.md(
            "\n".join(f"{r.rank}. frame {r.frame}, {r.kind}: {r.detail}" for r in top.itertuples())
        )
        frames = sorted(set(top["frame"].astype(int)))
        extracted = video.get_extractor().extract(record.video, frames, base_dir=store.root).to_frame()
        preview = render_preview(list(zip(extracted["frame"], extracted["path"], strict=True)), labels)
        metadata["preview"] = dg.MetadataValue.md(
            f"![top of the review queue](data:image/png;base64,{base64.b64encode(preview).decode()})"
        )
    context.log.info(f"match {match_id}: {len(queue)} review items from {len(tracks)} tracked boxes ({source})")
    yield dg.MaterializeResult(
        asset_key="model_tracks",
        metadata={
            "tracks": int(tracks["track_id"].nunique()),
            "source": source,
            "dagster/row_count": len(tracks),
        },
    )
    yield dg.MaterializeResult(asset_key="review_queue", metadata=metadata)


def _looked_at(predictions: pd.DataFrame) -> list[int]:
    """The frames the detector was run on: every frame between the first and last with detections, at the step
    they were taken."""
    frames = np.unique(predictions["frame"].to_numpy(dtype=np.int64))
    if len(frames) < 2:
        return frames.tolist()
    step = int(np.diff(frames).min())
    return list(range(int(frames[0]), int(frames[-1]) + 1, step))
