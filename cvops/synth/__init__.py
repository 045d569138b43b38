"""Synthetic football matches with the defects of real product annotations, and the truth about them.

There is no public data on a fresh machine, so every later stage (cleaning, frame extraction, dataset export,
training, the demo) is developed and tested on matches this package generates: a static broadcast view of a
pitch rendered with numpy and encoded with H.264, keyframe labels placed the way the product's annotators place
them (with ghost trajectories and out-of-sync matches), detector output, and under ``_truth/`` what the labels
should have been. Modules: ``config`` (knobs), ``league`` (stadiums, teams, fixtures), ``camera`` (pitch and
projection), ``scene`` (motion), ``render`` (pictures), ``encode`` (MP4/HLS), ``labels`` (truth, keyframes,
defects, detections), ``store`` (files).
"""

from cvops.synth.config import SynthConfig, parse_fps
from cvops.synth.store import MATCHES_COLUMNS, TRUTH_MATCHES_COLUMNS, generate_store

__all__ = ["MATCHES_COLUMNS", "TRUTH_MATCHES_COLUMNS", "SynthConfig", "generate_store", "parse_fps"]
