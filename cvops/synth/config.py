"""What a synthetic label store looks like: every knob of the generator in one frozen value.

A config fully determines the output: the same config gives byte-identical CSVs and identical decoded video
frames. Every random draw of a match is seeded from ``(seed, match index, purpose)`` only, so match ``m0007`` is the
same whether it was written in one run of 9 matches or appended later with ``first_match_index=6``; and changing
a label knob (say ``label_noise_px``) leaves the simulated motion and the video untouched.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from cvops.errors import InputError

MATCH_ID_PREFIX = "m"
# Ghosts are the wide players on the near flank: a defender and a midfielder per team.
MAX_GHOSTS = 4
CAMERAS = ("static", "broadcast")


def parse_fps(value: Fraction | float | int | str) -> Fraction:
    """An exact frame rate from ``25``, ``25.0``, ``"29.97"`` or ``"30000/1001"``.

    Floats are snapped to the nearest fraction with a denominator of at most 1001, so ``29.97002997`` becomes the
    NTSC rate ``30000/1001`` instead of an unwieldy binary fraction that no container time base could hold.
    """
    try:
        fps = Fraction(value).limit_denominator(1001) if isinstance(value, float) else Fraction(value)
    except (ValueError, ZeroDivisionError, TypeError) as exc:
        raise InputError(f"not a frame rate: {value!r} (use e.g. 25 or 30000/1001)", field="fps") from exc
    if fps <= 0 or fps > 240:
        raise InputError(f"frame rate must be in (0, 240], got {value!r}", field="fps")
    return fps


def format_fps(fps: Fraction) -> str:
    """``25`` for whole rates, ``30000/1001`` otherwise: what ``matches.csv`` stores."""
    return str(fps.numerator) if fps.denominator == 1 else f"{fps.numerator}/{fps.denominator}"


def match_id(index: int) -> str:
    return f"{MATCH_ID_PREFIX}{index:04d}"


@dataclass(frozen=True)
class SynthConfig:
    """Size, randomness and defect rates of a synthetic label store.

    Store layout: ``n_matches`` matches with indices ``first_match_index ..`` and ids ``m0000``-style.
    Video: ``seconds`` of ``width`` x ``height`` at ``fps`` (exact, may be a fraction), H.264 with a keyframe every
    ``gop`` frames; ``hls`` adds an HLS VOD copy cut into ``hls_segment_seconds`` segments.
    Defects: a share ``shifted_share`` (< 1) of matches has labels shifted by a non-zero offset of at most
    ``max_sync_offset`` frames; each match has ``ghosts_per_match`` (inclusive range) players who step off the
    pitch for ``ghost_off_seconds`` (range), waiting ``ghost_off_pitch_m`` (range) beyond the near touchline, and
    come back. At the default size the picture ends about 5 m beyond that line: the default distances keep them
    in it, unlabelled next to their ghost box, as a broadcast camera does; larger ones take them out of it.
    With ``record_exits`` the annotation records each exit with an ``outside`` keyframe (as CVAT does; label store
    schema version 2), so the same absences leave no ghost; without it (the default) the keyframes are those of
    a product that does not record exits.
    Annotation: keyframes are dense enough that linear interpolation stays within ``keyframe_tolerance_px`` of the
    truth, and each keyframe carries Gaussian placement noise of ``label_noise_px``.
    Camera: ``static`` films the whole pitch from one wide view; ``broadcast`` pans and zooms within it, following
    the ball (``cvops.synth.camera.broadcast_path``); boxes, labels and detections move with the picture, and
    ``_truth/<match>/camera.csv`` records the pan and zoom.
    League: ``pitches`` restricts the matches to these stadiums' pitches (empty: all three), e.g. to hold a
    pitch back for a later wave that a first model has not seen.
    Detector: misses ``det_miss_rate`` of the players (more when small or occluded) and ``det_ball_miss_rate`` of
    ball appearances, jitters boxes by ``det_jitter`` times the box height, and adds ``det_fp_per_frame`` false
    positives per frame on average.
    """

    n_matches: int = 6
    seconds: float = 20.0
    seed: int = 0
    width: int = 640
    height: int = 360
    fps: Fraction | float = 25
    gop: int = 50
    hls: bool = False
    hls_segment_seconds: float = 2.0
    first_match_index: int = 0
    shifted_share: float = 1 / 3
    max_sync_offset: int = 4
    ghosts_per_match: tuple[int, int] = (1, 3)
    ghost_off_seconds: tuple[float, float] = (2.0, 5.0)
    ghost_off_pitch_m: tuple[float, float] = (1.5, 4.0)
    record_exits: bool = False
    keyframe_tolerance_px: float = 1.0
    label_noise_px: float = 0.8
    det_miss_rate: float = 0.06
    det_ball_miss_rate: float = 0.25
    det_fp_per_frame: float = 2.0
    det_jitter: float = 0.04
    in_progress_share: float = 0.0
    crf: int = 23
    b_frames: int = 2
    pitches: tuple[str, ...] = ()
    camera: str = "static"

    def __post_init__(self) -> None:
        object.__setattr__(self, "fps", parse_fps(self.fps))
        checks: list[tuple[bool, str, str]] = [
            (self.n_matches >= 1, "n_matches", "must be at least 1"),
            (self.seconds > 0 and math.isfinite(self.seconds), "seconds", "must be a positive number"),
            (self.width >= 64 and self.width % 2 == 0, "width", "must be even and at least 64 (yuv420p)"),
            (self.height >= 64 and self.height % 2 == 0, "height", "must be even and at least 64 (yuv420p)"),
            (self.gop >= 1, "gop", "must be at least 1"),
            (self.hls_segment_seconds > 0, "hls_segment_seconds", "must be positive"),
            (0 <= self.first_match_index <= 9999 - self.n_matches + 1, "first_match_index", "must be in 0..9999"),
            (0 <= self.shifted_share < 1, "shifted_share", "must be in [0, 1): never shift every match"),
            (self.max_sync_offset >= 1, "max_sync_offset", "must be at least 1"),
            (
                0 <= self.ghosts_per_match[0] <= self.ghosts_per_match[1] <= MAX_GHOSTS,
                "ghosts_per_match",
                f"0 <= lo <= hi <= {MAX_GHOSTS} (two wide players per team)",
            ),
            (0 < self.ghost_off_seconds[0] <= self.ghost_off_seconds[1], "ghost_off_seconds", "0 < lo <= hi"),
            (0 < self.ghost_off_pitch_m[0] <= self.ghost_off_pitch_m[1], "ghost_off_pitch_m", "0 < lo <= hi"),
            (self.keyframe_tolerance_px > 0, "keyframe_tolerance_px", "must be positive"),
            (self.label_noise_px >= 0, "label_noise_px", "must be >= 0"),
            (0 <= self.det_miss_rate < 1, "det_miss_rate", "must be in [0, 1)"),
            (0 <= self.det_ball_miss_rate < 1, "det_ball_miss_rate", "must be in [0, 1)"),
            (self.det_fp_per_frame >= 0, "det_fp_per_frame", "must be >= 0"),
            (self.det_jitter >= 0, "det_jitter", "must be >= 0"),
            (0 <= self.in_progress_share <= 1, "in_progress_share", "must be in [0, 1]"),
            (0 <= self.crf <= 51, "crf", "must be in 0..51"),
            (0 <= self.b_frames <= 16, "b_frames", "must be in 0..16"),
            (self.camera in CAMERAS, "camera", f"must be one of {', '.join(CAMERAS)}"),
        ]
        for ok, name, message in checks:
            if not ok:
                raise InputError(f"{message}, got {getattr(self, name)!r}", field=name)

    @property
    def frame_rate(self) -> Fraction:
        """``fps`` as the exact fraction ``__post_init__`` made of it (typed for callers)."""
        assert isinstance(self.fps, Fraction)
        return self.fps

    @property
    def n_frames(self) -> int:
        return max(1, round(Fraction(str(self.seconds)) * self.frame_rate))

    @property
    def match_indices(self) -> range:
        return range(self.first_match_index, self.first_match_index + self.n_matches)

    @property
    def match_ids(self) -> list[str]:
        return [match_id(i) for i in self.match_indices]


def match_rng(seed: int, index: int, purpose: str) -> np.random.Generator:
    """The random stream of one purpose (``"scene"``, ``"labels"``, ...) of one match.

    Streams are independent per purpose so that, e.g., a different detector miss rate does not move the players.
    ``crc32`` (not ``hash``) keeps the stream stable across processes and Python versions.
    """
    return np.random.default_rng(np.random.SeedSequence([seed, index, zlib.crc32(purpose.encode())]))
