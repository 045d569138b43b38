"""``cvops frames``: files named by frame number, lossless PNG by default, errors as messages."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from cvops_cli import main
from cvops_cli.frames import parse_frames
from tests.video.conftest import image_code


def test_frames_writes_numbered_png_files(mp4_videos, http_server, tmp_path, cvops_home) -> None:
    out = tmp_path / "out"
    url = http_server.url(mp4_videos["editlist"].relative)
    result = CliRunner().invoke(main, ["frames", url, "--frames", "1,100-101,10", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["000001.png", "000010.png", "000100.png", "000101.png"]
    truth = mp4_videos["editlist"].truth
    assert {p.name: image_code(p) for p in out.iterdir()} == {f"{f:06d}.png": truth[f - 1] for f in (1, 10, 100, 101)}
    assert "wrote 4 frames" in result.output
    assert any((cvops_home / "samples").rglob("*.png"))  # through the sample store under CVOPS_HOME


def test_frames_jpg_without_the_store(mp4_videos, video_root, tmp_path, cvops_home) -> None:
    out = tmp_path / "out"
    video = str(mp4_videos["ntsc"].path)
    args = [video, "--frames", "3", "--out", str(out), "--format", "jpg", "--quality", "80", "--no-cache", "--quiet"]
    result = CliRunner().invoke(main, ["frames", *args])
    assert result.exit_code == 0, result.output
    assert image_code(out / "000003.jpg") == 3
    assert not (cvops_home / "samples").exists()


def test_errors_are_one_line_messages(mp4_videos, tmp_path, cvops_home) -> None:
    video = str(mp4_videos["start"].path)
    result = CliRunner().invoke(main, ["frames", video, "--frames", "500", "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 1
    assert "frame 500 is past the end of the video (120 frames)" in result.output
    result = CliRunner().invoke(
        main, ["frames", "file:///etc/passwd", "--frames", "1", "--out", str(tmp_path), "--quiet"]
    )
    assert result.exit_code == 1 and "file:// scheme" in result.output


def test_parse_frames() -> None:
    assert list(parse_frames("5, 1,3-4,,3")) == [1, 3, 4, 5]
    for bad in ("0", "a", "5-3", ""):
        with pytest.raises(click.BadParameter):
            parse_frames(bad)
