"""Importing a CVAT video task: CVAT's frame numbering and drawing kept exactly, bad exports named."""

from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cvops.errors import InputError
from cvops.labels import LabelStore, interpolate_keyframes
from cvops.labels.cvat_import import import_cvat
from cvops_cli import main

TASK_XML = Path(__file__).parent / "data" / "cvat_video_task.xml"


def _video(path: Path, *, width: int = 64, height: int = 48, frames: int = 24) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            image = np.full((height, width, 3), index * 10 % 256, dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


def test_a_cvat_export_becomes_the_keyframes_cvat_draws(tmp_path: Path) -> None:
    video = _video(tmp_path / "store" / "videos" / "m0042.mp4")
    result = CliRunner().invoke(
        main,
        [
            *("import-cvat", str(TASK_XML), str(tmp_path / "store"), "--match-id", "m0042"),
            *("--video", str(video), "--roles", "Person=player"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "added match m0042: 2 box tracks, 7 keyframes (1 outside, 1 closing)" in result.output
    assert "checked 7 interpolated boxes against CVAT's" in result.output
    assert "skipped tracks of other shape types: 1 points, 1 polygon, 1 skeleton (4 shapes)" in result.output

    store = LabelStore(tmp_path / "store")
    match = store.read_matches().matches["m0042"]
    assert (match.video, match.width, match.height, match.fps, match.n_frames) == ("videos/m0042.mp4", 64, 48, 25, 24)
    assert (match.status, match.annotated_at) == ("annotated", pd.Timestamp("2026-03-02T17:30:00Z"))
    keyframes = store.read_keyframes("m0042", n_frames=match.n_frames)
    # CVAT frame c is store frame c + 1; the outside keyframe keeps its box; the player, whose last keyframe is
    # visible, is drawn by CVAT to the task's last frame (20), hence a closing keyframe on store frame 21.
    player = keyframes[keyframes["track_id"] == 0]
    assert player["frame"].tolist() == [3, 9, 13, 17, 21]
    assert player["outside"].tolist() == [False, False, True, False, False]
    assert player["occluded"].tolist() == [False, True, True, False, False]
    assert player["role"].unique().tolist() == ["player"]
    assert keyframes.loc[keyframes["track_id"] == 1, "role"].unique().tolist() == ["ball"]
    drawn = interpolate_keyframes(keyframes).set_index(["track_id", "frame"])
    assert drawn.loc[(0, 11), "x"] == 18.0  # CVAT's frame 10: on the way to where the player left
    assert (0, 13) not in drawn.index and (0, 16) not in drawn.index


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("<version>1.1</version>", "<version>1.0</version>"), "CVAT XML version '1.0'; cvops reads version 1.1"),
        (('frame="8" keyframe="1"', 'frame="9" keyframe="1"'), "frame 9 is not a frame of the task"),
        (('xbr="26.00"', 'xbr="16.00"'), "track id=0, box frame=8: a box without area"),
        (('occluded="1" xtl="16.00"', 'occluded="1" rotation="30" xtl="16.00"'), "rotated by 30 degrees"),
        (
            ('keyframe="0" outside="0" occluded="0" xtl="32.00"', 'keyframe="1" outside="0" occluded="0" xtl="33.00"'),
            "differs from the store's interpolation",
        ),
        (("<meta>", "<meta><project></project>"), "a project export"),
        (('<track id="3"', '<image id="0" name="frame_000000"></image><track id="3"'), "'CVAT for images' export"),
    ],
)
def test_exports_that_cannot_be_read_faithfully_are_refused(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    xml = tmp_path / "annotations.xml"
    xml.write_text(TASK_XML.read_text().replace(*edit, 1))
    video = _video(tmp_path / "m.mp4")
    with pytest.raises(InputError, match=message) as caught:
        import_cvat(xml, tmp_path / "store", match_id="m1", video=str(video), roles={"Person": "player"})
    assert str(xml) in str(caught.value)
    assert not (tmp_path / "store" / "matches.csv").exists()  # nothing written


def test_labels_sizes_and_existing_matches_are_checked(tmp_path: Path) -> None:
    video = _video(tmp_path / "m.mp4")
    store = tmp_path / "store"
    with pytest.raises(InputError, match=r"no role for CVAT label\(s\) 'Person': map them with --roles"):
        import_cvat(TASK_XML, store, match_id="m1", video=str(video))
    small = _video(tmp_path / "small.mp4", width=32)
    with pytest.raises(InputError, match="original_size is 64x48 but the video is 32x48"):
        import_cvat(TASK_XML, store, match_id="m1", video=str(small), roles={"Person": "player"})
    short = _video(tmp_path / "short.mp4", frames=12)
    with pytest.raises(InputError, match="past the video's 12 frames"):
        import_cvat(TASK_XML, store, match_id="m1", video=str(short), roles={"Person": "player"})
    with pytest.raises(InputError, match="is not in the store: give its --video"):
        import_cvat(TASK_XML, store, match_id="m1", roles={"Person": "player"})

    import_cvat(TASK_XML, store, match_id="m1", video=str(video), roles={"Person": "player"})
    with pytest.raises(InputError, match="already in the store \\(status annotated\\); use --replace"):
        import_cvat(TASK_XML, store, match_id="m1", roles={"Person": "player"})
    summary = import_cvat(TASK_XML, store, match_id="m1", roles={"Person": "goalkeeper"}, replace=True)
    assert summary.replaced and summary.roles == {"ball": 1, "goalkeeper": 1}
    assert LabelStore(store).read_matches().matches["m1"].video == str(video)  # kept from the store's row
