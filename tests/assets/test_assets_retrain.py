"""retrain_sensor's threshold and `cvops benchmark invalidate`, on hand-made manifests."""

from pathlib import Path

import dagster as dg
import pandas as pd
from click.testing import CliRunner

from cvops.catalog import Manifests
from cvops_assets.sensors import retrain_sensor
from cvops_cli import main
from cvops_resources import CatalogResource, RetrainPolicyResource


def _manifests(home: Path, n_frames: int, in_latest: int) -> None:
    manifests = Manifests(home / "manifests")
    selection = pd.DataFrame(
        {
            "match_id": ["a"],
            "group_key": ["g"],
            "split": ["train"],
            "reason": ["group_slot"],
            "detail": [""],
            "annotated_at": [pd.Timestamp("2026-01-01", tz="UTC")],
            "policy": ["p"],
        }
    )
    manifests.write("match_selection", selection)
    frames = pd.DataFrame({"frame": range(1, n_frames + 1), "split": "train"})
    manifests.write("selected_frames", frames, "a")
    samples = frames.assign(sample_key="k", path="/x.jpg", bytes=1)
    manifests.write("frame_samples", samples, "a")
    tracks = frames.assign(track_id=1, role="player", x=1.0, y=1.0, w=2.0, h=2.0).drop(columns="split")
    manifests.write("cleaned_tracks", tracks, "a")
    latest = pd.DataFrame(
        {"version": 1, "match_id": "a", "frame": range(1, in_latest + 1), "split": "train", "md5": "m", "path": "p"}
    )
    manifests.write("dataset_samples", latest)


def _tick(home: Path, threshold: int):
    context = dg.build_sensor_context(
        resources={
            "catalog": CatalogResource(home=str(home)),
            "retrain_policy": RetrainPolicyResource(min_new_samples=threshold),
        }
    )
    return retrain_sensor(context)


def test_retrain_is_requested_once_enough_samples_are_new(cvops_home: Path) -> None:
    _manifests(cvops_home, n_frames=10, in_latest=6)  # 4 samples not in the latest version
    skipped = _tick(cvops_home, threshold=5)
    assert isinstance(skipped, dg.SkipReason) and "4 new samples" in skipped.skip_message

    requested = _tick(cvops_home, threshold=4)
    assert isinstance(requested, dg.RunRequest) and requested.tags["cvops/new_samples"] == "4"
    assert _tick(cvops_home, threshold=4).run_key == requested.run_key  # same candidate set, same key: one run

    _manifests(cvops_home, n_frames=11, in_latest=6)
    assert _tick(cvops_home, threshold=4).run_key != requested.run_key


def test_benchmark_invalidate_starts_a_new_generation(cvops_home: Path) -> None:
    runner = CliRunner()
    refused = runner.invoke(main, ["benchmark", "invalidate", "--reason", " "])
    assert refused.exit_code != 0 and "needs a reason" in refused.output
    done = runner.invoke(main, ["benchmark", "invalidate", "--reason", "labels of m0001 were wrong"])
    assert done.exit_code == 0, done.output
    table = Manifests(cvops_home / "manifests").read("benchmark_samples")
    assert table["reason"].tolist() == ["generation started: labels of m0001 were wrong"]
