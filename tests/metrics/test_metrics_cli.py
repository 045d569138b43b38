"""``cvops evaluate`` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cvops.tracking import write_mot_gt, write_mot_tracker_file
from cvops_cli import main


@pytest.fixture
def sequence(tmp_path: Path) -> tuple[Path, Path]:
    """A MOT sequence folder with two objects over 10 frames, and a tracker that misses object 2."""
    rows = [(f, i, 10.0 + f + 200 * (i - 1), 10.0, 20.0, 40.0) for f in range(1, 11) for i in (1, 2)]
    gt = pd.DataFrame(rows, columns=["frame", "id", "x", "y", "w", "h"])
    write_mot_gt(tmp_path / "SEQ-01" / "gt" / "gt.txt", gt)
    tracker = tmp_path / "tracker.txt"
    write_mot_tracker_file(tracker, gt[gt["id"] == 1].assign(conf=0.9))
    return tmp_path / "SEQ-01", tracker


def test_table_output(sequence: tuple[Path, Path]) -> None:
    folder, tracker = sequence
    result = CliRunner().invoke(main, ["evaluate", str(folder), str(tracker)])
    assert result.exit_code == 0, result.output
    lines = {line.split("  ")[0]: line for line in result.output.splitlines()}
    assert lines["MOTA"].split()[-2:] == ["50.00", "%"]
    assert lines["IDF1"].split()[-2:] == ["66.67", "%"]
    assert lines["False negatives"].split()[-1] == "10"
    assert "Weighted error" in result.output and "0.5000" in result.output
    assert str(folder / "gt" / "gt.txt") in result.output


def test_json_output_and_gt_file_argument(sequence: tuple[Path, Path]) -> None:
    folder, tracker = sequence
    result = CliRunner().invoke(main, ["evaluate", str(folder / "gt" / "gt.txt"), str(tracker), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["fn"] == 10 and payload["fp"] == 0 and payload["id_switches"] == 0
    assert payload["mota"] == pytest.approx(0.5) and payload["hota"] == pytest.approx(0.5**0.5)
    assert payload["weighted_error"] == pytest.approx(0.5)
    assert payload["gt"].endswith("gt.txt")


def test_class_options_and_idsw_weight(sequence: tuple[Path, Path]) -> None:
    folder, tracker = sequence
    args = [str(folder), str(tracker), "--json", "--eval-class", "1", "--distractor-class", "7"]
    result = CliRunner().invoke(main, ["evaluate", *args, "--idsw-weight", "2"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["num_gt_dets"] == 20


def test_malformed_tracker_file_is_reported_with_line_and_field(sequence: tuple[Path, Path], tmp_path: Path) -> None:
    folder, _ = sequence
    bad = tmp_path / "bad.txt"
    bad.write_text("1,1,10,10,20,40,0.9,-1,-1,-1\n2,1,10,10,20,-40,0.9,-1,-1,-1\n")
    result = CliRunner().invoke(main, ["evaluate", str(folder), str(bad)])
    assert result.exit_code == 1
    assert f"{bad}, row 2, field 'h': negative height" in result.output


def test_folder_without_gt_and_missing_paths(tmp_path: Path, sequence: tuple[Path, Path]) -> None:
    _, tracker = sequence
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path / "tracker.txt"), str(tmp_path)])
    assert result.exit_code == 2 and "is a directory" in result.output
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path / "empty"), str(tracker)])
    assert result.exit_code == 1 and "gt/gt.txt" in result.output
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path / "missing"), str(tracker)])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_class_options_need_a_class_column(tmp_path: Path, sequence: tuple[Path, Path]) -> None:
    _, tracker = sequence
    six_columns = tmp_path / "gt6.txt"
    six_columns.write_text("1,1,11,10,20,40\n")
    result = CliRunner().invoke(main, ["evaluate", str(six_columns), str(tracker), "--eval-class", "1"])
    assert result.exit_code == 1 and "class column" in result.output
