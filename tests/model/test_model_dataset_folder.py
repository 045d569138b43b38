"""Dataset folders written from arrays and from synthetic label stores."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest

from cvops.errors import InputError
from cvops.model.data import DetectionDataset
from cvops.model.dataset_folder import DatasetSample, dataset_from_synth_store, write_dataset_folder
from cvops.model.schema import read_labels, read_manifest
from cvops.model.toy_data import toy_match


def _samples() -> list[DatasetSample]:
    out = []
    for match_id, split in (("a", "train"), ("b", "val")):
        for frame, image, boxes in toy_match(match_id, 3, n_players=2):
            out.append(DatasetSample(match_id, frame, split, image, boxes, group_key=f"g-{match_id}"))
    return out


def test_folder_from_arrays_follows_the_contract(tmp_path: Path) -> None:
    root = write_dataset_folder(tmp_path / "ds", _samples())
    manifest = read_manifest(root)
    assert list(manifest.columns) == ["match_id", "frame", "split", "group_key", "md5", "path", "n_boxes"]
    assert manifest[["match_id", "frame", "split"]].values.tolist() == [
        ["a", 1, "train"],
        ["a", 2, "train"],
        ["a", 3, "train"],
        ["b", 1, "val"],
        ["b", 2, "val"],
        ["b", 3, "val"],
    ]
    assert (manifest["n_boxes"] == 5).all()
    assert manifest["group_key"].tolist()[:1] == ["g-a"]
    for row in manifest.itertuples():
        data = (root / row.path).read_bytes()
        assert hashlib.md5(data).hexdigest() == row.md5
        assert row.path == f"images/{row.match_id}/{row.frame:06d}.jpg"
    labels = read_labels(root, "val")
    assert set(labels["match_id"]) == {"b"} and len(labels) == 15
    assert set(labels["role"]) == {"player", "goalkeeper", "referee", "ball"}


def test_rewriting_the_same_samples_gives_the_same_files(tmp_path: Path) -> None:
    first = write_dataset_folder(tmp_path / "one", _samples())
    second = write_dataset_folder(tmp_path / "two", _samples())
    for path in sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file()):
        assert (first / path).read_bytes() == (second / path).read_bytes(), path


def test_bad_samples_are_input_errors(tmp_path: Path) -> None:
    image = np.zeros((8, 8, 3), np.uint8)
    boxes = pd.DataFrame(columns=["track_id", "role", "x", "y", "w", "h"])
    with pytest.raises(InputError, match="split"):
        write_dataset_folder(tmp_path / "ds", [DatasetSample("a", 1, "test", image, boxes)])
    with pytest.raises(InputError, match="lack columns") as info:
        write_dataset_folder(tmp_path / "ds", [DatasetSample("a", 1, "train", image, boxes.drop(columns="role"))])
    assert (info.value.field, info.value.match_id) == ("role", "a")


def write_mini_store(store: Path, match_ids: list[str], n_frames: int) -> dict[str, list[np.ndarray]]:
    """A store in the synthetic generator's layout (videos/<id>.mp4, _truth/<id>/boxes.csv) from toy frames."""
    frames_by_match = {}
    for match_id in match_ids:
        frames = toy_match(match_id, n_frames, size=(160, 96), n_players=2)
        video = store / "videos" / f"{match_id}.mp4"
        video.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(video), "w") as container:
            stream = container.add_stream("libx264", rate=Fraction(25))
            stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
            stream.options = {"crf": "12"}
            for _, image, _ in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
            container.mux(stream.encode())
        truth = pd.concat([boxes.assign(frame=frame) for frame, _, boxes in frames])
        (store / "_truth" / match_id).mkdir(parents=True)
        truth[["frame", "track_id", "role", "x", "y", "w", "h"]].to_csv(
            store / "_truth" / match_id / "boxes.csv", index=False
        )
        frames_by_match[match_id] = [image for _, image, _ in frames]
    return frames_by_match


def test_folder_from_a_synthetic_store_takes_every_nth_frame(tmp_path: Path) -> None:
    originals = write_mini_store(tmp_path / "store", ["m0000", "m0001", "m0002"], n_frames=7)
    root = dataset_from_synth_store(tmp_path / "store", tmp_path / "ds", every=3, val_matches=1)
    manifest = read_manifest(root)
    assert manifest.groupby("match_id")["frame"].apply(list).to_dict() == {
        "m0000": [1, 4, 7],
        "m0001": [1, 4, 7],
        "m0002": [1, 4, 7],
    }
    assert manifest.set_index("match_id")["split"].groupby(level=0).first().to_dict() == {
        "m0000": "train",
        "m0001": "train",
        "m0002": "val",
    }
    dataset = DetectionDataset(root, "train", (160, 96))
    # Frame 4 of m0000: the decoded picture is the encoded one (up to compression) and the labels are its boxes.
    index = int(np.flatnonzero((manifest["match_id"] == "m0000") & (manifest["frame"] == 4))[0])
    image = dataset.load_image(index).astype(int)
    assert np.abs(image - originals["m0000"][3].astype(int)).mean() < 6
    expected = toy_match("m0000", 7, size=(160, 96), n_players=2)[3][2]
    np.testing.assert_allclose(dataset.frame_labels(index).boxes, expected[["x", "y", "w", "h"]].to_numpy())


def test_synthetic_store_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no _truth"):
        dataset_from_synth_store(tmp_path, tmp_path / "ds")
    write_mini_store(tmp_path / "store", ["m0000"], n_frames=2)
    with pytest.raises(InputError, match="m9999"):
        dataset_from_synth_store(tmp_path / "store", tmp_path / "ds", val_matches=["m9999"])


def test_folder_from_the_real_synthetic_generator(tmp_path: Path) -> None:
    synth = pytest.importorskip("cvops.synth")
    config = synth.SynthConfig(n_matches=2, seconds=0.4, width=320, height=192)
    synth.generate_store(tmp_path / "store", config)
    root = dataset_from_synth_store(tmp_path / "store", tmp_path / "ds", every=5, val_matches=1)
    manifest = read_manifest(root)
    assert manifest["frame"].tolist() == [1, 6, 1, 6]
    dataset = DetectionDataset(root, "train", (320, 192))
    image, targets = dataset[0]
    assert image.shape == (3, 192, 320)
    assert len(targets.index) == manifest["n_boxes"].iloc[0] > 10
    assert (targets.heatmap == 1.0).sum() >= 10  # players, keepers, referees and the ball as peaks
