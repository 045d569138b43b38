"""review_queue: on an annotated match (labels vs predictions) and on one awaiting annotation (model only)."""

from pathlib import Path

import dagster as dg
import pytest

from cvops.catalog import Manifests
from tests.assets.test_assets_cleaning import _run
from tests.labels.test_labels_cvat_import import _video


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def _det_txt(store: Path, match_id: str, tracks: range) -> None:
    rows = [f"{f},-1,{20.0 * t + f},{100.0 + t},10,20,0.9,-1,-1,-1" for f in range(1, 51) for t in tracks]
    (store / match_id / "det.txt").write_text("\n".join(rows) + "\n")


@pytest.mark.slow
def test_annotated_match_queue_compares_labels_with_predictions(small_store: Path, cvops_home: Path, instance):
    _det_txt(small_store, "m0002", range(1, 12))  # the detector never sees player 12
    _video(small_store / "videos" / "m0002.mp4", width=640, height=360, frames=50)
    instance.add_dynamic_partitions("matches", ["m0002"])
    result = _run(instance, ["raw_labels", "match_predictions", "cleaned_tracks", "review_queue"], "m0002")
    assert result.success
    (queue_event,) = [
        m for m in result.asset_materializations_for_node("review_queue") if m.asset_key.path == ["review_queue"]
    ]
    assert queue_event.metadata["source"].value == "det.txt" and "preview" in queue_event.metadata
    queue = Manifests(cvops_home / "manifests").read("review_queue", "m0002")
    track = queue[queue["kind"] == "unconfirmed_track"]
    assert track["track_id"].tolist() == [12] and set(queue["source"]) == {"labels vs det.txt"}


@pytest.mark.slow
def test_match_awaiting_annotation_gets_model_tracks_and_a_queue(small_store: Path, cvops_home: Path, instance):
    _det_txt(small_store, "m0004", range(1, 13))
    _video(small_store / "videos" / "m0004.mp4", width=640, height=360, frames=50)
    instance.add_dynamic_partitions("matches", ["m0004"])
    result = _run(instance, ["match_predictions", "review_queue"], "m0004")
    assert result.success
    manifests = Manifests(cvops_home / "manifests")
    tracks = manifests.read("model_tracks", "m0004")
    assert tracks["track_id"].nunique() == 12 and set(tracks["role"]) == {"other"}  # det.txt has no classes
    queue = manifests.read("review_queue", "m0004")
    assert set(queue["source"]) <= {"det.txt"}
