"""``cvops track`` through click's CliRunner: MOT detections in, MOT tracks out, errors naming file and line."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cvops.metrics import evaluate_sequence
from cvops.tracking import read_mot_tracker, write_mot_detections
from cvops.tracking.simulate import DetectorModel, random_scene, simulate_detections
from cvops_cli import main


@pytest.fixture
def scene() -> tuple[pd.DataFrame, pd.DataFrame]:
    gt = random_scene(10, 80, seed=3)
    return gt, simulate_detections(gt, DetectorModel(embedding_dim=8, false_positives_per_frame=0.3), seed=4)


def test_tracks_a_detection_file_like_the_library(tmp_path: Path, scene) -> None:
    gt, dets = scene
    det_file, out = tmp_path / "det.txt", tmp_path / "tracks.txt"
    write_mot_detections(det_file, dets)  # with the class column and the 8-d embeddings after column 10
    result = CliRunner().invoke(main, ["track", str(det_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    tracks = read_mot_tracker(out)
    assert evaluate_sequence(gt, tracks).idf1 > 0.9
    assert f"{tracks['id'].nunique()} tracks" in result.output

    settings = tmp_path / "tracker.yaml"
    settings.write_text("max_lost: 5\nreported_boxes: detection\n")
    args = ["track", str(det_file), "--out", str(out), "--config", str(settings), "--operating-point", "0.4"]
    assert CliRunner().invoke(main, [*args, "--fps", "60"]).exit_code == 0
    detection_boxes = read_mot_tracker(out)
    merged = detection_boxes.merge(dets.round(2), on=["frame", "x", "y", "w", "h"])
    assert len(merged) == len(detection_boxes)  # each reported box is a detection's own


def test_errors_name_the_file_line_and_field(tmp_path: Path) -> None:
    det_file = tmp_path / "det.txt"
    det_file.write_text("1,-1,10,20,30,60,0.9,-1,-1,-1\n2,-1,10,20,0,60,0.9,-1,-1,-1\n")
    result = CliRunner().invoke(main, ["track", str(det_file), "--out", str(tmp_path / "t.txt")])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {det_file}, row 2, field 'w': box width must be > 0"
    assert not (tmp_path / "t.txt").exists()

    det_file.write_text("1,-1,10,20,30,60,0.9,2,-1,-1,0.5,0.5\n1,-1,50,20,30,60,0.9,2,-1,-1,0,0\n")
    result = CliRunner().invoke(main, ["track", str(det_file), "--out", str(tmp_path / "t.txt")])
    assert "row 2, field 'emb_0': the embedding is all zeros" in result.output

    settings = tmp_path / "bad.yaml"
    settings.write_text("max_lsot: 3\n")
    result = CliRunner().invoke(main, ["track", str(det_file), "--out", "t.txt", "--config", str(settings)])
    assert result.exit_code == 1 and f"{settings}, field 'max_lsot'" in result.output


def test_compensates_the_motion_measured_on_the_video(tmp_path: Path) -> None:
    # Still players filmed by a camera that holds still for 10 frames, then pans 8 px a frame: every box jumps by
    # its own width from one frame to the next, which no motion model predicts without seeing the camera.
    from cvops.synth.encode import encode_mp4

    offsets = [8 * max(0, f - 10) for f in range(1, 31)]
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (90, 300), dtype=np.uint8).repeat(4, axis=0).repeat(2, axis=1)
    video = tmp_path / "pan.mp4"
    encode_mp4(
        (np.repeat(texture[:, 240 - o : 560 - o, None], 3, axis=2) for o in offsets), video, fps=Fraction(25), gop=10
    )
    rows = [(f, 20.0 + 60 * k + o, 100.0, 8.0, 20.0, 0.9) for f, o in enumerate(offsets, 1) for k in range(5)]
    write_mot_detections(tmp_path / "det.txt", pd.DataFrame(rows, columns=["frame", "x", "y", "w", "h", "conf"]))
    runner, out = CliRunner(), tmp_path / "tracks.txt"
    result = runner.invoke(main, ["track", str(tmp_path / "det.txt"), "--out", str(out), "--video", str(video)])
    assert result.exit_code == 0, result.output
    assert "camera motion compensated" in result.output
    compensated = read_mot_tracker(out)
    assert compensated["id"].nunique() == 5 and len(compensated) == 150
    assert runner.invoke(main, ["track", str(tmp_path / "det.txt"), "--out", str(out)]).exit_code == 0
    assert len(read_mot_tracker(out)) < 100  # without the video, the pan loses every track
