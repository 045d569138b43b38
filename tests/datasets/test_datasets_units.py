"""Input checks, image facts, COCO, preview and settings: the parts that need no DVC call."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from cvops.datasets import DatasetRepo, DatasetRepoError, RemoteSettings, export_preview
from cvops.datasets.coco import coco_json
from cvops.datasets.inputs import validate_labels, validate_samples
from cvops.datasets.sample_info import describe_images
from cvops.errors import InputError
from tests.datasets.dataset_helpers import S3_SECRET, SampleFactory


@pytest.mark.parametrize(
    ("column", "value", "field", "message"),
    [
        ("split", "test", "split", "split must be one of train, val"),
        ("frame", 1.5, "frame", "expected an integer"),
        ("match_id", "../etc", "match_id", "invalid match id"),
        ("group_key", " ", "group_key", "group_key is empty"),
    ],
)
def test_bad_sample_rows_are_named(
    sample_factory: SampleFactory, column: str, value: object, field: str, message: str
) -> None:
    samples, _ = sample_factory.frames({"m1": [1, 2, 3]})
    samples[column] = samples[column].astype(object)
    samples.loc[1, column] = value
    with pytest.raises(InputError, match=message) as failure:
        validate_samples(samples)
    assert (failure.value.file, failure.value.row, failure.value.field) == ("samples", 2, field)


def test_duplicate_sample_and_missing_column_are_named(sample_factory: SampleFactory) -> None:
    samples, _ = sample_factory.frames({"m1": [1, 2]})
    with pytest.raises(InputError, match="frame 2 appears more than once") as failure:
        validate_samples(pd.concat([samples, samples.iloc[[1]]], ignore_index=True))
    assert failure.value.row == 3 and failure.value.match_id == "m1"
    with pytest.raises(InputError, match="missing column"):
        validate_samples(samples.drop(columns=["group_key"]))
    with pytest.raises(InputError, match="no samples"):
        validate_samples(samples.iloc[:0])


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [("role", "coach", "unknown role"), ("w", 0, "positive"), ("x", float("nan"), "finite"), ("track_id", -1, ">= 0")],
)
def test_bad_label_rows_are_named(sample_factory: SampleFactory, column: str, value: object, message: str) -> None:
    _, labels = sample_factory.frames({"m1": [1, 2]})
    labels[column] = labels[column].astype(object)
    labels.loc[2, column] = value
    with pytest.raises(InputError, match=message) as failure:
        validate_labels(labels)
    assert (failure.value.file, failure.value.row, failure.value.field) == ("labels", 3, column)


def test_two_boxes_of_one_track_in_a_frame_are_refused(sample_factory: SampleFactory) -> None:
    _, labels = sample_factory.frames({"m1": [1]})
    with pytest.raises(InputError, match="track 1 has two boxes in frame 1"):
        validate_labels(pd.concat([labels, labels.iloc[[0]]], ignore_index=True))


def test_image_facts_are_read_once_and_again_when_the_file_changes(
    sample_factory: SampleFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    samples, _ = sample_factory.frames({"m1": [1, 2]})
    cache = tmp_path / "info.parquet"
    first = describe_images(samples["source_path"], cache)
    assert first["width"].tolist() == [16, 16] and first["height"].tolist() == [12, 12]

    reads = []
    from cvops.datasets import sample_info

    original = sample_info._read
    monkeypatch.setattr(sample_info, "_read", lambda path: reads.append(path) or original(path))
    assert describe_images(samples["source_path"], cache).equals(first)
    assert reads == []

    changed = sample_factory.path("m1", 2)
    changed.write_bytes(sample_factory.path("m1", 1).read_bytes())
    os.utime(changed, ns=(1, 1))
    again = describe_images(samples["source_path"], cache)
    assert reads == [str(changed)] and again["md5"].nunique() == 1


def test_missing_or_foreign_images_are_refused(sample_factory: SampleFactory, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing") as failure:
        describe_images([str(tmp_path / "nope.jpg")], tmp_path / "info.parquet")
    assert failure.value.field == "source_path"
    png = tmp_path / "frame.png"
    png.write_bytes(b"not an image")
    with pytest.raises(InputError, match="not a readable image"):
        describe_images([str(png)], tmp_path / "info.parquet")


def test_coco_keeps_track_and_role_and_skips_roles_without_category() -> None:
    images = pd.DataFrame(
        {"match_id": ["m1", "m1"], "frame": [3, 9], "path": ["images/m1/000003.jpg", "images/m1/000009.jpg"],
         "width": [640, 640], "height": [360, 360]}
    )  # fmt: skip
    labels = pd.DataFrame(
        {"match_id": ["m1"] * 4, "frame": [9, 3, 3, 3], "track_id": [4, 7, 1, 2],
         "role": ["referee", "goalkeeper", "other", "ball"], "x": [1.0] * 4, "y": [2.0] * 4, "w": [3.0] * 4,
         "h": [5.0] * 4}
    )  # fmt: skip
    coco = json.loads(coco_json(images, labels, description="t"))
    assert [(a["image_id"], a["track_id"], a["category_id"], a["role"]) for a in coco["annotations"]] == [
        (1, 2, 4, "ball"), (1, 7, 2, "goalkeeper"), (2, 4, 3, "referee"),
    ]  # fmt: skip
    assert [a["id"] for a in coco["annotations"]] == [1, 2, 3]
    assert coco["images"][1]["frame"] == 9 and coco["images"][1]["match_id"] == "m1"


def test_preview_before_any_version_counts_everything_as_added(tmp_path: Path, sample_factory: SampleFactory) -> None:
    repo = DatasetRepo(tmp_path / "not-yet", RemoteSettings(str(tmp_path / "remote")))
    samples, _ = sample_factory.frames({"a": [1, 2], "b": [1], "c": [5]}, groups={"c": "south|x|y"}, val=["b"])
    preview = export_preview(repo, samples)
    assert "| `north|lions|bears` | 0 | 2 | 0 | 3 | +3 | -0 |" in preview
    assert "| `south|x|y` | 0 | 1 | 0 | 1 | +1 | -0 |" in preview
    assert "no version exported yet" in preview and not repo.path.exists()


def test_remote_settings(tmp_path: Path) -> None:
    local = RemoteSettings(str(tmp_path / "r" / ".." / "remote"))
    assert Path(local.url).is_absolute() and local.identity() == local.url
    s3 = RemoteSettings("s3://bucket/prefix", endpoint_url="http://127.0.0.1:9", secret_access_key=S3_SECRET)
    assert s3.identity() == "s3://bucket/prefix @ http://127.0.0.1:9" and S3_SECRET not in repr(s3)
    assert s3.child_environment()["AWS_SECRET_ACCESS_KEY"] == S3_SECRET
    env_based = RemoteSettings.from_env({"CVOPS_DVC_REMOTE": "s3://b/p", "AWS_ENDPOINT_URL": "http://minio:9000"})
    assert env_based.identity({"AWS_ENDPOINT_URL": "http://minio:9000"}) == "s3://b/p @ http://minio:9000"
    assert RemoteSettings.from_env({"CVOPS_HOME": str(tmp_path)}).url == str(tmp_path / "dvc-remote")
    with pytest.raises(DatasetRepoError, match="unsupported"):
        RemoteSettings("gs://bucket/x")


def test_command_errors_never_show_a_secret(tmp_path: Path) -> None:
    repo = DatasetRepo(tmp_path / "repo", RemoteSettings("s3://bucket/p", secret_access_key=S3_SECRET))
    repo.path.mkdir()
    repo.git("init", "-q")
    with pytest.raises(DatasetRepoError) as failure:
        repo.git("show", S3_SECRET)  # git echoes the unknown revision in its error
    assert S3_SECRET not in str(failure.value) and "***" in str(failure.value)
