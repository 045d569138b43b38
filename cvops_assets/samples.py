"""Frame samples: the selected frames of each match, extracted exactly from its video into the sample store."""

import base64

import dagster as dg
import pandas as pd

from cvops.video import render_preview
from cvops_assets.partitions import matches_partitions
from cvops_assets.selection import selected_frames
from cvops_resources import CatalogResource, LabelStoreResource, VideoResource

PREVIEW_FRAMES = 4


@dg.asset(
    partitions_def=matches_partitions,
    deps=[selected_frames],
    group_name="samples",
    kinds={"pyav", "jpeg"},
    automation_condition=dg.AutomationCondition.eager(),
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
    frames = sorted(catalog.read("selected_frames", match_id)["frame"].astype(int).tolist())
    match = catalog.read("matches", match_id).iloc[0]
    if not frames:
        empty = pd.DataFrame({"frame": [], "sample_key": [], "path": [], "bytes": []})
        catalog.write("frame_samples", empty.astype({"frame": "int64", "bytes": "int64"}), match_id)
        return dg.MaterializeResult(metadata={"samples": 0, "note": "no frame of this match is selected"})

    result = video.extract(match.video, frames, base_dir=label_store.store().root, log=context.log)
    rows = result.to_frame()
    catalog.write("frame_samples", rows[["frame", "sample_key", "path", "bytes"]], match_id)

    stats = result.stats
    metadata: dict[str, object] = {
        "samples": len(rows),
        "extracted": stats.n_extracted,
        "already_cached": stats.n_cached,
        "bytes_read_from_source": stats.bytes_read_from_source,
        "source_requests": stats.source_requests,
        "seconds": round(stats.seconds, 2),
        "sample_bytes": int(rows["bytes"].sum()),
        "dagster/row_count": len(rows),
    }
    boxes = catalog.read("cleaned_tracks", match_id)
    preview = render_preview(list(zip(rows["frame"], rows["path"], strict=True))[:PREVIEW_FRAMES], boxes)
    metadata["preview"] = dg.MetadataValue.md(
        f"![frames with cleaned boxes](data:image/png;base64,{base64.b64encode(preview).decode()})"
    )
    return dg.MaterializeResult(metadata=metadata)
