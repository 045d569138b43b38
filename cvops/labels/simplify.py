"""Keyframes as a person places them: as few as linear interpolation needs to stay close to a track.

Used by the synthetic annotator (``cvops.synth``) and to turn a model's tracks into pseudo-label keyframes
(``cvops.review``).
"""

from __future__ import annotations

import numpy as np


def simplify_track(track: np.ndarray, tolerance: float) -> np.ndarray:
    """Indices of the keyframes of ``track`` ``(m, d)``: linear interpolation between them is within
    ``tolerance`` (max abs per coordinate) of every row. Always keeps the first and the last row.

    Ramer-Douglas-Peucker, iterative (tracks are long, recursion depth is not bounded by much), each split
    vectorised over its span.
    """
    m = len(track)
    keep = np.zeros(m, dtype=bool)
    keep[[0, m - 1]] = True
    spans = [(0, m - 1)]
    while spans:
        a, b = spans.pop()
        if b - a < 2:
            continue
        t = (np.arange(a + 1, b) - a)[:, None] / (b - a)
        line = track[a] + (track[b] - track[a]) * t
        error = np.abs(track[a + 1 : b] - line).max(axis=1)
        worst = int(np.argmax(error))
        if error[worst] > tolerance:
            split = a + 1 + worst
            keep[split] = True
            spans.extend([(a, split), (split, b)])
    return np.flatnonzero(keep)
