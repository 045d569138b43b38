"""Synthetic scenes and a simulated detector, for tests, benchmarks and demos without video or weights.

The detector model reproduces the situations an online tracker has to survive on broadcast football: box
jitter proportional to size, random misses, occlusion (a player hidden behind a nearer one is missed, or
detected with a low score and an appearance polluted by the occluder: ByteTrack's low-score regime), false
positives, and per-player appearance embeddings that are close for one player and far across players.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from cvops.tracking.boxes import as_boxes


@dataclass(frozen=True)
class DetectorModel:
    """How the simulated detector errs. Fractions are of the box height or of the detections."""

    box_noise: float = 0.03
    """Std of the jitter on x, y, w, h, as a fraction of the box height."""
    miss_rate: float = 0.02
    """Probability that a fully visible object is not detected in a frame."""
    hidden_below: float = 0.3
    """Visible fraction below which an occluded object is not detected at all."""
    low_score_below: float = 0.7
    """Visible fraction below which an occluded object gets a low score (0.15-0.45) and a mixed embedding."""
    false_positives_per_frame: float = 0.0
    """Mean number of spurious boxes per frame (Poisson), scored 0.1-0.65."""
    embedding_dim: int = 32
    """0 for a detector without appearance embeddings."""
    embedding_noise: float = 0.15
    """Norm of the per-detection appearance noise (0.15: cosine similarity ~0.99 to the player's own)."""
    team_similarity: float = 0.5
    """Cosine similarity between players of the same team (ids alternate between two teams): same kit."""


def random_scene(
    n_objects: int,
    n_frames: int,
    *,
    width: float = 1920.0,
    height: float = 1080.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Ground truth ``frame,id,x,y,w,h,conf,cls,visibility`` of players wandering a pitch-sized frame.

    Each object moves with a slowly changing velocity (up to ~8 px/frame), bounces off the frame edges and
    lives for a random stretch of the sequence (at least a third of it), so there are births and deaths.
    """
    rng = np.random.default_rng(seed)
    rows: list[NDArray[np.float64]] = []
    for object_id in range(1, n_objects + 1):
        box_h = rng.uniform(60, 160)
        box_w = box_h * rng.uniform(0.35, 0.5)
        length = int(rng.integers(max(2, n_frames // 3), n_frames + 1))
        start = int(rng.integers(1, n_frames - length + 2))
        position = np.array([rng.uniform(0, width - box_w), rng.uniform(0, height - box_h)])
        velocity = rng.normal(0, 3, size=2)
        for frame in range(start, start + length):
            velocity = np.clip(velocity + rng.normal(0, 0.3, size=2), -8, 8)
            position = position + velocity
            for axis, limit in ((0, width - box_w), (1, height - box_h)):
                if not 0 <= position[axis] <= limit:
                    velocity[axis] = -velocity[axis]
                    position[axis] = np.clip(position[axis], 0, limit)
            rows.append(np.array([frame, object_id, position[0], position[1], box_w, box_h]))
    table = pd.DataFrame(np.array(rows).reshape(-1, 6), columns=["frame", "id", "x", "y", "w", "h"])
    table = table.astype({"frame": np.int64, "id": np.int64}).sort_values(["frame", "id"], ignore_index=True)
    return table.assign(conf=1, cls=0, visibility=1.0)


def simulate_detections(gt: pd.DataFrame, model: DetectorModel | None = None, *, seed: int = 0) -> pd.DataFrame:
    """Detections ``frame,x,y,w,h,conf,cls[,emb_0..]`` plus ``gt_id`` (-1 for false positives) for ``gt``.

    ``gt`` needs ``frame,id,x,y,w,h`` and may carry ``cls`` (copied to the detections, 0 otherwise).
    """
    model = model if model is not None else DetectorModel()
    rng = np.random.default_rng(seed)
    ids = gt["id"].to_numpy(dtype=np.int64)
    appearance = _identity_embeddings(np.unique(ids), model, rng)
    classes = gt["cls"].to_numpy(dtype=np.int64) if "cls" in gt.columns else np.zeros(len(gt), dtype=np.int64)
    boxes = gt[["x", "y", "w", "h"]].to_numpy(dtype=float)
    frames = gt["frame"].to_numpy(dtype=np.int64)
    span = (int(frames.min()), int(frames.max())) if len(frames) else (1, 0)

    out_rows, out_emb = [], []
    for frame in range(span[0], span[1] + 1):
        in_frame = np.flatnonzero(frames == frame)
        visible, occluder = _visibility(boxes[in_frame])
        for local, row in enumerate(in_frame):
            if visible[local] < model.hidden_below or rng.random() < model.miss_rate:
                continue
            base = appearance.get(int(ids[row]))
            if visible[local] < model.low_score_below:
                score = rng.uniform(0.15, 0.45)
                if base is not None:
                    base = base + 0.6 * appearance[int(ids[in_frame[occluder[local]]])]
            else:
                score = rng.uniform(0.6, 0.95)
            box = _jitter(boxes[row], model.box_noise, rng)
            out_rows.append([frame, *box, score, classes[row], ids[row]])
            out_emb.append(_noisy(base, model.embedding_noise, rng))
        for _ in range(rng.poisson(model.false_positives_per_frame)):
            box = _random_box(boxes, rng)
            out_rows.append([frame, *box, rng.uniform(0.1, 0.65), 0, -1])
            spurious = _unit(rng.normal(size=model.embedding_dim)) if model.embedding_dim > 0 else None
            out_emb.append(_noisy(spurious, model.embedding_noise, rng))

    columns = ["frame", "x", "y", "w", "h", "conf", "cls", "gt_id"]
    table = pd.DataFrame(np.array(out_rows, dtype=float).reshape(-1, len(columns)), columns=columns)
    table = table.astype({"frame": np.int64, "cls": np.int64, "gt_id": np.int64})
    if model.embedding_dim > 0:
        embeddings = np.array(out_emb).reshape(-1, model.embedding_dim)
        emb_columns = pd.DataFrame(embeddings, columns=[f"emb_{i}" for i in range(model.embedding_dim)])
        table = pd.concat([table, emb_columns], axis=1)
    return table


def _identity_embeddings(
    ids: NDArray[np.int64], model: DetectorModel, rng: np.random.Generator
) -> dict[int, NDArray[np.float64]]:
    """One unit appearance vector per object: a shared team component plus an individual one."""
    if model.embedding_dim <= 0:
        return {}
    teams = [_unit(rng.normal(size=model.embedding_dim)) for _ in range(2)]
    share = np.sqrt(model.team_similarity)
    own = np.sqrt(1.0 - model.team_similarity)
    return {int(i): _unit(share * teams[int(i) % 2] + own * _unit(rng.normal(size=model.embedding_dim))) for i in ids}


def _visibility(boxes: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Visible fraction of each box and the index of its main occluder (itself when unoccluded).

    Nearer objects have their bottom edge lower in the image; a box is covered by the nearer box that overlaps
    it most (one occluder approximates the union well at football densities).
    """
    boxes = as_boxes(boxes)
    n = len(boxes)
    if n == 0:
        return np.zeros(0), np.zeros(0, dtype=np.intp)
    x1, y1 = boxes[:, 0] + boxes[:, 2], boxes[:, 1] + boxes[:, 3]
    inter_w = np.clip(np.minimum(x1[:, None], x1[None, :]) - np.maximum(boxes[:, None, 0], boxes[None, :, 0]), 0, None)
    inter_h = np.clip(np.minimum(y1[:, None], y1[None, :]) - np.maximum(boxes[:, None, 1], boxes[None, :, 1]), 0, None)
    covered = inter_w * inter_h / np.maximum(boxes[:, 2] * boxes[:, 3], 1e-9)[:, None]
    in_front = y1[None, :] > y1[:, None]
    covered = np.where(in_front, covered, 0.0)
    occluder = np.argmax(covered, axis=1)
    fraction = covered[np.arange(n), occluder]
    return 1.0 - np.clip(fraction, 0.0, 1.0), np.where(fraction > 0, occluder, np.arange(n))


def _jitter(box: NDArray[np.float64], noise: float, rng: np.random.Generator) -> NDArray[np.float64]:
    jittered = box + rng.normal(0, noise * box[3], size=4)
    jittered[2:] = np.maximum(jittered[2:], 0.25 * box[2:])
    return jittered


def _random_box(boxes: NDArray[np.float64], rng: np.random.Generator) -> NDArray[np.float64]:
    reference = boxes[rng.integers(len(boxes))] if len(boxes) else np.array([0.0, 0.0, 40.0, 100.0])
    offset = rng.normal(0, 4 * reference[3], size=2)
    return np.array([reference[0] + offset[0], reference[1] + offset[1], reference[2], reference[3]])


def _unit(vector: NDArray[np.float64]) -> NDArray[np.float64]:
    return vector / np.linalg.norm(vector)


def _noisy(base: NDArray[np.float64] | None, noise: float, rng: np.random.Generator) -> NDArray[np.float64] | None:
    """``base`` plus isotropic noise of total norm ~``noise``, re-normalised."""
    if base is None or len(base) == 0:
        return base
    return _unit(_unit(base) + rng.normal(0, noise / np.sqrt(len(base)), size=len(base)))
