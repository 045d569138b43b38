"""Frame samples: the selected frames of each match, extracted exactly from its video into the sample store."""

import base64

import dagster as dg
import pandas as pd

from cvops.video import progress_reporter, render_preview
from cvops_assets.automation import once_per_match
from cvops_assets.catalog_tables import label_store, table_asset
from cvops_resources import CatalogResource, LabelStoreResource, VideoResource

PREVIEW_FRAMES = 4


@dg.multi_asset(
    name="frame_samples",
    specs=[
        table_asset(
            "frame_samples",
            deps=["selected_frames", "matches", "cleaned_tracks", label_store],
            group_name="samples",
            kinds={"pyav", "jpeg", "parquet"},
            automation_condition=once_per_match,
        )
    ],
    description="JPEGs of a match's selected frames, read exactly from its video (mp4 or HLS, local or remote) "
    "into the content-addressed sample store; frames already there are never fetched again.",
)
def frame_samples(
    context: dg.AssetExecutionContext,
    video: VideoResource,
    label_store: LabelStoreResource,
    catalog: CatalogResource,
) -> dg.MaterializeResult:
    match_id = context.partition_key
    tables = catalog.get_catalog()
    frames = sorted(tables.read("selected_frames", match_id)["frame"].astype(int).tolist())
    if not frames:
        empty = pd.DataFrame({"frame": [], "sample_key": [], "path": [], "bytes": []})
        tables.write("frame_samples", empty.astype({"frame": "int64", "bytes": "int64"}), match_id)
        return dg.MaterializeResult(
            asset_key="frame_samples", metadata={"samples": 0, "note": "no frame of this match is selected"}
        )

    store = label_store.get_store()
    progress = progress_reporter(context.log.info, label=f"match {match_id}")
    result = video.get_extractor().extract(
        store.annotated_match(match_id).video, frames, base_dir=store.root, progress=progress
    )
    rows = result.to_frame()
    tables.write("frame_samples", rows[["frame", "sample_key", "path", "bytes"]], match_id)

    stats = result.stats
    boxes = tables.read("cleaned_tracks", match_id)
    preview = render_preview(list(zip(rows["frame"], rows["path"], strict=True))[:PREVIEW_FRAMES], boxes)
    return dg.MaterializeResult(
        asset_key="frame_samples",
        metadata={
            "samples": len(rows),
            "extracted": stats.n_extracted,
            "already_cached": stats.n_cached,
            "bytes_read_from_source": stats.bytes_read_from_source,
            "source_requests": stats.source_requests,
            "seconds": round(stats.seconds, 2),
            "sample_bytes": int(rows["bytes"].sum()),
            "dagster/row_count": len(rows),
            "preview": dg.MetadataValue.md(
                f"![frames with cleaned boxes](data:image/png;base64,{base64.b64encode(preview).decode()})"
            ),
        },
    )
