"""The videos: frame count, size, exact timing, GOP structure, HLS copy, and pictures that show the truth."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pandas as pd

from cvops.synth import SynthConfig, generate_store


def _decode(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def test_mp4_decodes_to_n_frames_with_gop_and_b_frames(small_store: Path, small_config: SynthConfig) -> None:
    path = small_store / "videos" / "m0000.mp4"
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.average_rate == small_config.frame_rate
        frames = list(container.decode(stream))
    assert len(frames) == small_config.n_frames
    assert {(f.width, f.height) for f in frames} == {(small_config.width, small_config.height)}
    assert {f.format.name for f in frames} == {"yuv420p"}
    keyframes = [i for i, f in enumerate(frames) if f.key_frame]
    assert keyframes == list(range(0, small_config.n_frames, small_config.gop))
    assert any(f.pict_type == av.video.frame.PictureType.B for f in frames)
    times = [f.time - frames[0].time for f in frames]
    assert np.allclose(times, np.arange(len(frames)) / float(small_config.frame_rate))


def test_pictures_show_the_truth_boxes_of_the_same_frame(small_store: Path, small_config: SynthConfig) -> None:
    """Pixels that differ from the empty pitch (the per-pixel median over time) lie inside the truth boxes of
    the same video frame better than inside those of a neighbouring frame: no off-by-one between video and truth.
    Rain is left out: its streaks change pixels everywhere."""
    matches = pd.read_csv(small_store / "matches.csv")
    mid = matches.loc[matches["weather"] != "rain", "match_id"].iloc[0]
    frames = np.stack([f.to_ndarray(format="rgb24") for f in _decode(small_store / "videos" / f"{mid}.mp4")]).astype(
        np.int16
    )
    background = np.median(frames, axis=0)
    truth = pd.read_csv(small_store / "_truth" / mid / "boxes.csv")
    boxes_by_frame = {frame: group[["x", "y", "w", "h"]].to_numpy() for frame, group in truth.groupby("frame")}
    scores = {d: 0.0 for d in (-2, -1, 0, 1, 2)}
    sampled = range(10, small_config.n_frames - 10, 7)
    for index in sampled:
        changed = np.abs(frames[index] - background).max(axis=-1) > 40
        for d in scores:
            inside = np.zeros_like(changed)
            for x, y, w, h in boxes_by_frame[index + 1 + d]:
                inside[round(y) : round(y + h), round(x) : round(x + w)] = True
            scores[d] += (changed & inside).sum() / max(changed.sum(), 1)
    assert max(scores, key=scores.get) == 0
    assert scores[0] / len(sampled) > 0.6, "most changed pixels are figures inside their boxes"


def test_fractional_fps_is_exact(tmp_path: Path) -> None:
    config = SynthConfig(n_matches=1, seconds=1, width=128, height=72, fps="30000/1001", gop=15)
    generate_store(tmp_path, config)
    matches = pd.read_csv(tmp_path / "matches.csv", dtype=str)
    assert matches.loc[0, "fps"] == "30000/1001"
    assert int(matches.loc[0, "n_frames"]) == config.n_frames == 30
    with av.open(str(tmp_path / "videos" / "m0000.mp4")) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == Fraction(30000, 1001)
        frames = list(container.decode(stream))
    assert len(frames) == 30
    steps = {(b.pts - a.pts) * b.time_base for a, b in itertools.pairwise(frames)}
    assert steps == {Fraction(1001, 30000)}


def test_hls_copy_has_the_same_frames(tmp_path: Path) -> None:
    config = SynthConfig(
        n_matches=1, seconds=4, width=128, height=72, fps=10, gop=10, hls=True, hls_segment_seconds=1.0
    )
    generate_store(tmp_path, config)
    matches = pd.read_csv(tmp_path / "matches.csv", dtype=str)
    assert matches.loc[0, "video"] == "videos/m0000/index.m3u8"
    playlist = tmp_path / "videos" / "m0000" / "index.m3u8"
    text = playlist.read_text()
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and "#EXT-X-ENDLIST" in text
    segments = sorted(p.name for p in playlist.parent.glob("seg_*.ts"))
    assert segments == [f"seg_{i:05d}.ts" for i in range(4)]
    assert (tmp_path / "videos" / "m0000.mp4").is_file()
    hls_frames = _decode(playlist)
    mp4_frames = _decode(tmp_path / "videos" / "m0000.mp4")
    assert len(hls_frames) == len(mp4_frames) == config.n_frames
    assert np.array_equal(hls_frames[17].to_ndarray(), mp4_frames[17].to_ndarray())
    # Re-writing swaps the HLS folder whole and leaves no staging folders behind.
    generate_store(tmp_path, config)
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == ["m0000", "m0000.mp4"]
