"""Same config, same store: byte for byte, videos included; and a match does not depend on its neighbours."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from cvops.synth import SynthConfig, generate_store


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_config_gives_identical_files(tmp_path: Path, tiny_config: SynthConfig) -> None:
    generate_store(tmp_path / "a", tiny_config)
    generate_store(tmp_path / "b", tiny_config)
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert first.keys() == second.keys()
    assert "videos/m0001.mp4" in first and "_truth/m0001/boxes.csv" in first
    assert [name for name in first if first[name] != second[name]] == []


def test_other_seed_gives_other_matches(tmp_path: Path, tiny_config: SynthConfig) -> None:
    generate_store(tmp_path / "a", tiny_config)
    generate_store(tmp_path / "b", dataclasses.replace(tiny_config, seed=tiny_config.seed + 1))
    for name in ("m0000/keyframes.csv", "_truth/m0000/boxes.csv", "videos/m0000.mp4"):
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "b" / name).read_bytes()


def test_label_knobs_do_not_move_the_players(tmp_path: Path, tiny_config: SynthConfig) -> None:
    generate_store(tmp_path / "a", tiny_config)
    generate_store(tmp_path / "b", dataclasses.replace(tiny_config, label_noise_px=2.0, det_miss_rate=0.2))
    assert (tmp_path / "a/_truth/m0000/boxes.csv").read_bytes() == (tmp_path / "b/_truth/m0000/boxes.csv").read_bytes()
    assert (tmp_path / "a/videos/m0000.mp4").read_bytes() == (tmp_path / "b/videos/m0000.mp4").read_bytes()
    assert (tmp_path / "a/m0000/keyframes.csv").read_bytes() != (tmp_path / "b/m0000/keyframes.csv").read_bytes()


def test_parallel_workers_write_the_same_store(tmp_path: Path, tiny_config: SynthConfig) -> None:
    generate_store(tmp_path / "serial", tiny_config)
    seen: list[str] = []
    ids = generate_store(tmp_path / "parallel", tiny_config, workers=2, progress=seen.append)
    assert ids == seen == ["m0000", "m0001"]
    assert _files(tmp_path / "serial") == _files(tmp_path / "parallel")
