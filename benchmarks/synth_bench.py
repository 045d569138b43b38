"""Time the synthetic match generator: a whole store end to end, and the phases of one match.

Usage: ``python benchmarks/synth_bench.py [--matches 6] [--seconds 20] [--width 640] [--height 360]``.
Prints seconds per match end to end (``generate_store``, one worker), then for a few matches the time of each
phase (simulation, background, drawing frames, H.264 encoding, labels and detections). Each figure is given as
wall-clock and as CPU seconds of this process: x264 is pinned to one thread, so a match uses one core, and on a
busy shared machine the CPU time is the figure that says what one idle core would take.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from cvops.synth import SynthConfig, generate_store
from cvops.synth.camera import Camera
from cvops.synth.config import match_rng
from cvops.synth.encode import encode_mp4
from cvops.synth.labels import annotate, detect, truth_table
from cvops.synth.league import make_fixture
from cvops.synth.render import MatchRenderer
from cvops.synth.scene import build_scene, image_boxes


class _Clock:
    """Wall and CPU seconds since the last lap."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        elapsed = (wall - self.wall, cpu - self.cpu)
        self.wall, self.cpu = wall, cpu
        return elapsed


def _phases(config: SynthConfig, index: int, workdir: Path) -> tuple[str, dict[str, tuple[float, float]]]:
    times: dict[str, tuple[float, float]] = {}
    clock = _Clock()
    fixture = make_fixture(config, index)
    camera = Camera(config.width, config.height, fixture.stadium.view)
    scene = build_scene(config, fixture)
    boxes = image_boxes(scene, camera)
    times["simulate"] = clock.lap()
    renderer = MatchRenderer(camera, fixture, scene, boxes, match_rng(config.seed, index, "render"))
    times["background"] = clock.lap()
    frames = list(renderer.frames())
    times["draw frames"] = clock.lap()
    encode_mp4(
        frames, workdir / "phase.mp4", fps=config.frame_rate, gop=config.gop, crf=config.crf, b_frames=config.b_frames
    )
    times["encode"] = clock.lap()
    annotate(config, index, scene, boxes, camera)
    detect(config, index, scene, boxes, camera)
    truth_table(scene, boxes)
    times["labels+detections"] = clock.lap()
    return fixture.weather, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matches", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    args = parser.parse_args()
    config = SynthConfig(n_matches=args.matches, seconds=args.seconds, width=args.width, height=args.height)
    print(
        f"config: {args.matches} matches x {args.seconds:g} s, {args.width}x{args.height} @ {config.frame_rate} fps "
        f"({config.n_frames} frames each); load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus"
    )
    with tempfile.TemporaryDirectory() as tmp:
        laps: list[tuple[float, float]] = []
        clock = _Clock()
        generate_store(Path(tmp) / "store", config, progress=lambda _mid: laps.append(clock.lap()))
        wall, cpu = np.array(laps).T
        print(
            f"generate_store: {wall.sum():.2f} s wall / {cpu.sum():.2f} s CPU in all; per match wall "
            f"{', '.join(f'{t:.2f}' for t in wall)} s; per match CPU {', '.join(f'{t:.2f}' for t in cpu)} s; "
            f"mean {wall.mean():.2f} s wall / {cpu.mean():.2f} s CPU"
        )
        for index in range(min(args.matches, 4)):
            weather, phases = _phases(config, index, Path(tmp))
            figures = ", ".join(f"{name} {w:.2f}/{c:.2f}" for name, (w, c) in phases.items())
            print(f"phases m{index:04d} ({weather}), seconds wall/CPU: {figures}")


if __name__ == "__main__":
    main()
