from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cvops.labels import LabelStore, interpolate_keyframes
from cvops.labels.mot_import import import_mot as import_sequences
from cvops_cli import main


def _sequence(root: Path, name: str, *, gameinfo: bool) -> Path:
    folder = root / name
    (folder / "img1").mkdir(parents=True)
    (folder / "gt").mkdir()
    for frame in range(1, 11):
        pixels = np.full((48, 64, 3), frame * 20, dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "img1" / f"{frame:06d}.png")
    (folder / "seqinfo.ini").write_text(
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate=25\nseqLength=10\nimWidth=64\nimHeight=48\nimExt=.png\n"
    )
    rows = []
    for frame in range(1, 11):
        rows.append(f"{frame},1,{frame},5,8,16,1,1,1.0")  # a player
        rows.append(f"{frame},2,30,10,4,4,1,1,1.0")  # the ball (per gameinfo) or a pedestrian
        rows.append(f"{frame},3,40,20,6,12,0,1,1.0")  # flagged: not to evaluate
    (folder / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
    if gameinfo:
        (folder / "gameinfo.ini").write_text(
            "[Sequence]\nnum_tracklets=3\ntrackletID_1= player team left;7\ntrackletID_2= ball;1\n"
            "trackletID_3= referee;main\n"
        )
    return folder


def test_soccernet_sequence_becomes_a_match(tmp_path: Path) -> None:
    _sequence(tmp_path / "src", "SNMOT-060", gameinfo=True)
    _sequence(tmp_path / "src", "SNMOT-061", gameinfo=False)
    written = import_sequences(tmp_path / "src", tmp_path / "store")
    assert written == ["SNMOT-060", "SNMOT-061"]

    store = LabelStore(tmp_path / "store")
    table = store.read_matches()
    assert table.errors == []
    match = table.matches["SNMOT-060"]
    assert (match.n_frames, match.width, match.height, match.fps, match.status) == (10, 64, 48, 25, "annotated")

    keyframes = store.read_keyframes("SNMOT-060")
    assert len(keyframes) == 20  # the flagged track is left out
    assert dict(zip(keyframes.track_id, keyframes.role, strict=False)) == {1: "player", 2: "ball"}
    assert set(store.read_keyframes("SNMOT-061").role) == {"player"}  # MOT class 1 without gameinfo
    assert interpolate_keyframes(keyframes)["is_keyframe"].all()

    with av.open(store.video_location(match)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 10
    assert [round(f.mean() / 20) for f in frames] == list(range(1, 11))  # frame order kept


def test_importing_twice_needs_overwrite(tmp_path: Path) -> None:
    _sequence(tmp_path / "src", "seq", gameinfo=False)
    runner = CliRunner()
    first = runner.invoke(main, ["import-mot", str(tmp_path / "src"), str(tmp_path / "store")])
    assert first.exit_code == 0 and "imported 1 sequence(s)" in first.output
    second = runner.invoke(main, ["import-mot", str(tmp_path / "src"), str(tmp_path / "store")])
    assert second.exit_code != 0 and "already in the store" in second.output
    third = runner.invoke(main, ["import-mot", str(tmp_path / "src"), str(tmp_path / "store"), "--overwrite"])
    assert third.exit_code == 0
    assert list(LabelStore(tmp_path / "store").read_matches().matches) == ["seq"]


def test_broken_sequences_are_named(tmp_path: Path) -> None:
    folder = _sequence(tmp_path / "src", "seq", gameinfo=False)
    (folder / "seqinfo.ini").write_text("[Sequence]\nseqLength=ten\nimWidth=64\nimHeight=48\n")
    with pytest.raises(Exception, match=r"seqinfo.ini, field 'seqLength': expected a number"):
        import_sequences(tmp_path / "src", tmp_path / "store")
    (tmp_path / "empty").mkdir()
    with pytest.raises(Exception, match="no MOT sequence found"):
        import_sequences(tmp_path / "empty", tmp_path / "store")


def _cvat_mot_export(root: Path, *, images: bool) -> Path:
    """What CVAT's "MOT 1.1" export holds: gt/gt.txt (frame,id,x,y,w,h,not-ignored,class,visibility),
    gt/labels.txt (one class name per line, class i on line i) and, with images, img1/000001.jpg ...; no
    seqinfo.ini."""
    folder = root / "task_7"
    (folder / "gt").mkdir(parents=True)
    (folder / "gt" / "labels.txt").write_text("Person\nball\nreferee\n")
    rows = []
    for frame in range(1, 6):
        rows.append(f"{frame},1,{frame},5,8,16,1,1,1.0")
        rows.append(f"{frame},2,30,10,4,4,1,2,1.0")
        rows.append(f"{frame},3,40,20,6,12,1,3,0.5")
    (folder / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
    if images:
        (folder / "img1").mkdir()
        for frame in range(1, 6):
            Image.fromarray(np.full((48, 64, 3), frame * 40, dtype=np.uint8)).save(folder / "img1" / f"{frame:06d}.jpg")
    return folder


def test_cvat_mot_export_without_seqinfo_reads_labels_txt(tmp_path: Path) -> None:
    from fractions import Fraction

    from cvops.errors import InputError

    _cvat_mot_export(tmp_path / "src", images=True)
    with pytest.raises(InputError, match=r"frame rate of an image sequence must be given \(--fps\)"):
        import_sequences(tmp_path / "src", tmp_path / "store")
    result = CliRunner().invoke(main, ["import-mot", str(tmp_path / "src"), str(tmp_path / "store"), "--fps", "25"])
    assert result.exit_code == 0, result.output
    store = LabelStore(tmp_path / "store")
    match = store.read_matches().matches["task_7"]
    assert (match.width, match.height, match.n_frames, match.fps) == (64, 48, 5, Fraction(25))
    roles = store.read_keyframes("task_7").drop_duplicates("track_id").set_index("track_id")["role"].to_dict()
    assert roles == {1: "player", 2: "ball", 3: "referee"}

    bare = _cvat_mot_export(tmp_path / "bare", images=False)
    with pytest.raises(InputError, match=r"no seqinfo\.ini, and neither a video nor images") as caught:
        import_sequences(tmp_path / "bare", tmp_path / "store2", fps=Fraction(25))
    assert str(bare) in str(caught.value)
    (bare / "gt" / "labels.txt").write_text("Person\n")
    (bare / "img1").mkdir()
    Image.fromarray(np.zeros((48, 64, 3), dtype=np.uint8)).save(bare / "img1" / "000001.jpg")
    with pytest.raises(InputError, match=r"class 2 of gt\.txt is not a line of labels\.txt"):
        import_sequences(tmp_path / "bare", tmp_path / "store2", fps=Fraction(25))
