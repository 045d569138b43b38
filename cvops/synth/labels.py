"""The truth, the human labels with their defects, and the detector's output, all from one simulated match.

Truth: for every video frame, the box (clipped to the image) of every actor the product's annotation policy
labels: everybody visible in the image, except a player who has stepped off the pitch (``Scene.off_pitch``).

Labels imitate the product's corrected annotations:
- **Keyframes only where motion changes.** For every stretch in which an actor is visible, the annotator keeps
  the first and last frame and as few frames in between as needed for linear interpolation to stay within
  ``keyframe_tolerance_px`` of the truth (Ramer-Douglas-Peucker on the box track with a max-abs error, which
  puts keyframes exactly where the velocity changes), then places each keyframe with Gaussian noise.
- **Ghosts.** A player who steps off the pitch (or out of the image) has no keyframes while away, but the
  product interpolates between the last keyframe before the exit and the first after the re-entry, creating
  boxes where nobody labelled is: along the touchline, beside the real player standing off the pitch. The truth
  lists those label frames: the frames strictly between the two keyframes. With ``record_exits`` the annotator
  records each exit instead (an ``outside`` keyframe on the first frame the player is not labelled, as CVAT
  does), so nothing is interpolated across the absence and the store has no ghosts.
- **Out of sync.** A share of matches has labels shifted by ``k != 0`` frames. Public convention: label frame
  ``f`` shows video frame ``f + k``, so the box written at label frame ``f`` is the truth of video frame
  ``clip(f + k, 1, n_frames)``. The schedule is low-discrepancy (exactly one in ``1 / shifted_share``
  consecutive matches is shifted) and match index 0 is never shifted, so a store is never shifted throughout.

Detections imitate the product's detector on the real frames (video numbering): truth boxes with jitter,
misses that grow for small, occluded or cut-off objects and for the ball, false positives (flickering ones on
pitch lines and in the crowd that recur at the same place, plus one-off ones), and confidences that are high
for true detections and low for false ones, with some overlap.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cvops.labels.simplify import simplify_track
from cvops.synth.camera import PITCH_LENGTH, Camera, CameraPath, pitch_markings
from cvops.synth.config import SynthConfig, match_rng
from cvops.synth.scene import ImageBoxes, Scene

BOX_COLUMNS = ["frame", "track_id", "role", "x", "y", "w", "h"]
GHOST_COLUMNS = ["track_id", "start_frame", "end_frame"]
DET_COLUMNS = ["frame", "id", "x", "y", "w", "h", "conf", "a", "b", "c"]


def sync_offset(config: SynthConfig, index: int) -> int:
    """The label shift ``k`` of match ``index`` (0 when in sync); see the module docstring for the schedule."""
    share = config.shifted_share
    if share <= 0:
        return 0
    phase = float(np.random.default_rng(np.random.SeedSequence([config.seed, 0x73796E63])).uniform(0, 1 - share))
    if math.floor((index + 1) * share + phase) == math.floor(index * share + phase):
        return 0
    rng = match_rng(config.seed, index, "sync")
    magnitude = int(rng.integers(1, config.max_sync_offset + 1))
    return magnitude if rng.random() < 0.5 else -magnitude


def truth_table(scene: Scene, boxes: ImageBoxes) -> pd.DataFrame:
    """The boxes the annotation policy labels (``labelled``) per video frame, ordered by frame then track id."""
    frame_index, actor_index = np.nonzero(labelled(scene, boxes))
    clipped = boxes.clipped[frame_index, actor_index]
    track_ids = np.array([a.track_id for a in scene.actors])
    roles = np.array([a.role for a in scene.actors])
    return pd.DataFrame(
        {
            "frame": frame_index + 1,
            "track_id": track_ids[actor_index],
            "role": roles[actor_index],
            "x": clipped[:, 0],
            "y": clipped[:, 1],
            "w": clipped[:, 2],
            "h": clipped[:, 3],
        },
        columns=BOX_COLUMNS,
    )


def labelled(scene: Scene, boxes: ImageBoxes) -> np.ndarray:
    """``(n_frames, n_actors)``: who the annotation policy labels in each video frame (see the module docstring)."""
    return boxes.visible & ~scene.off_pitch


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive ``(start, end)`` index pairs of the True runs of a 1-D mask."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(s), int(e) - 1) for s, e in zip(edges[0::2], edges[1::2], strict=True)]


@dataclass(frozen=True)
class MatchLabels:
    sync_offset: int
    keyframes: pd.DataFrame  # BOX_COLUMNS (plus ``outside`` when exits are recorded), label frame numbers
    ghosts: pd.DataFrame  # GHOST_COLUMNS, inclusive label frame ranges

    @property
    def n_ghost_rows(self) -> int:
        return int((self.ghosts["end_frame"] - self.ghosts["start_frame"] + 1).sum())


def annotate(config: SynthConfig, index: int, scene: Scene, boxes: ImageBoxes, camera: Camera) -> MatchLabels:
    """Keyframes as the product's annotators place them, with the match's sync offset and the ghosts it implies."""
    rng = match_rng(config.seed, index, "labels")
    offset = sync_offset(config, index)
    n = scene.n_frames
    shown = np.clip(np.arange(n) + offset, 0, n - 1)  # label frame f (index f - 1) shows this video index
    rows: list[tuple[np.ndarray, int, str, np.ndarray]] = []
    ghosts: list[tuple[int, int, int]] = []
    exits: list[tuple[int, int, str]] = []
    labelled_now = labelled(scene, boxes)
    for actor_index, actor in enumerate(scene.actors):
        label_boxes = boxes.clipped[shown, actor_index]
        runs = _runs(labelled_now[shown, actor_index])
        for start, end in runs:
            keys = start + simplify_track(label_boxes[start : end + 1], config.keyframe_tolerance_px)
            rows.append((keys + 1, actor.track_id, actor.role, label_boxes[keys]))
            if config.record_exits and end + 1 < n:
                exits.append((end + 2, actor.track_id, actor.role))  # the first label frame without the player
        if not config.record_exits:
            for (_, previous_end), (next_start, _) in itertools.pairwise(runs):
                ghosts.append((actor.track_id, previous_end + 2, next_start))
    frames = np.concatenate([r[0] for r in rows])
    track_ids = np.concatenate([np.full(len(r[0]), r[1]) for r in rows])
    roles = np.concatenate([np.full(len(r[0]), r[2], dtype=object) for r in rows])
    placed = _place(np.concatenate([r[3] for r in rows]), config.label_noise_px, camera, rng)
    keyframes = pd.DataFrame(
        {
            "frame": frames,
            "track_id": track_ids,
            "role": roles,
            "x": placed[:, 0],
            "y": placed[:, 1],
            "w": placed[:, 2],
            "h": placed[:, 3],
        },
        columns=BOX_COLUMNS,
    )
    if config.record_exits:
        # An outside keyframe carries no box: the player is not in the picture (or not on the pitch) to draw.
        keyframes["outside"] = False
        exit_rows = pd.DataFrame(exits, columns=["frame", "track_id", "role"]).assign(outside=True)
        keyframes = pd.concat([keyframes, exit_rows], ignore_index=True)
    keyframes = keyframes.sort_values(["frame", "track_id"], kind="stable").reset_index(drop=True)
    ghost_table = pd.DataFrame(ghosts, columns=GHOST_COLUMNS).sort_values(["track_id", "start_frame"], kind="stable")
    return MatchLabels(offset, keyframes, ghost_table.reset_index(drop=True))


def _place(true_boxes: np.ndarray, noise_px: float, camera: Camera, rng: np.random.Generator) -> np.ndarray:
    """Boxes as a person draws them: each edge off by Gaussian noise, still inside the image, at least 1 px."""
    x0 = true_boxes[:, 0] + rng.normal(0, noise_px, len(true_boxes))
    y0 = true_boxes[:, 1] + rng.normal(0, noise_px, len(true_boxes))
    x1 = true_boxes[:, 0] + true_boxes[:, 2] + rng.normal(0, noise_px, len(true_boxes))
    y1 = true_boxes[:, 1] + true_boxes[:, 3] + rng.normal(0, noise_px, len(true_boxes))
    x0, x1 = np.clip(x0, 0, camera.width - 1), np.clip(x1, 0, camera.width)
    y0, y1 = np.clip(y0, 0, camera.height - 1), np.clip(y1, 0, camera.height)
    x1, y1 = np.maximum(x1, np.minimum(x0 + 1, camera.width)), np.maximum(y1, np.minimum(y0 + 1, camera.height))
    return np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)


def _occlusion(boxes: ImageBoxes) -> np.ndarray:
    """Share of each box covered by boxes drawn in front of it (nearer the camera), capped at 1."""
    b = boxes.clipped
    x0, y0 = b[..., 0], b[..., 1]
    x1, y1 = x0 + b[..., 2], y0 + b[..., 3]
    iw = np.clip(np.minimum(x1[:, :, None], x1[:, None, :]) - np.maximum(x0[:, :, None], x0[:, None, :]), 0, None)
    ih = np.clip(np.minimum(y1[:, :, None], y1[:, None, :]) - np.maximum(y0[:, :, None], y0[:, None, :]), 0, None)
    in_front = boxes.foot[:, None, :, 1] > boxes.foot[:, :, None, 1]
    visible_other = boxes.visible[:, None, :]
    covered = (iw * ih * in_front * visible_other).sum(axis=2)
    area = np.maximum(b[..., 2] * b[..., 3], 1e-9)
    return np.clip(covered / area, 0.0, 1.0)


def _false_positive_anchors(camera: Camera, rng: np.random.Generator, count: int) -> np.ndarray:
    """Places where the detector keeps firing: points on pitch lines, in the crowd and on the boards,
    as ``(count, 4)`` person-sized boxes."""
    markings = pitch_markings()
    anchors = []
    far_v = camera.view.far_touchline_v * camera.height
    for _ in range(count):
        kind = rng.random()
        if kind < 0.55:
            line = markings[int(rng.integers(len(markings)))]
            i = int(rng.integers(len(line) - 1))
            ground = line[i] + (line[i + 1] - line[i]) * rng.random()
            u, v = camera.project(ground)
            h = float(camera.figure_height_px(ground)) * rng.uniform(0.5, 1.0)
            v = v + h * rng.uniform(0.0, 0.6)
        else:  # crowd or boards, above the far touchline
            u = rng.uniform(0.05, 0.95) * camera.width
            v = rng.uniform(0.4, 0.95) * far_v
            h = float(camera.figure_height_px(np.array([PITCH_LENGTH / 2, 0.0]))) * rng.uniform(0.6, 1.0)
        w = h * rng.uniform(0.3, 0.7)
        anchors.append([u - w / 2, v - h, w, h])
    return np.asarray(anchors, dtype=np.float64).reshape(-1, 4)


def detect(
    config: SynthConfig,
    index: int,
    scene: Scene,
    boxes: ImageBoxes,
    camera: Camera,
    path: CameraPath | None = None,
) -> pd.DataFrame:
    """The detector's boxes per video frame: ``DET_COLUMNS`` (``id`` and the last three are -1 as in MOT) plus
    ``track_id``, the actor each detection came from (-1: false positive), which only the truth files keep.

    False positives fire at places of the wide view (lines, crowd, boards); with a broadcast ``path`` they move
    with the picture like everything else in it."""
    rng = match_rng(config.seed, index, "detections")
    n, k = boxes.visible.shape
    is_ball = np.array([a.role == "ball" for a in scene.actors])[None, :]
    drawn_h = boxes.drawn[..., 3]
    small = np.clip((0.05 * camera.height - drawn_h) / (0.025 * camera.height), 0.0, 1.0)
    occluded = _occlusion(boxes)
    cut_off = 1.0 - (boxes.clipped[..., 2] * boxes.clipped[..., 3]) / (boxes.drawn[..., 2] * boxes.drawn[..., 3])
    miss = np.where(is_ball, config.det_ball_miss_rate, config.det_miss_rate * (1.0 + 1.5 * small))
    miss = np.clip(miss + 0.6 * occluded**1.5 + 0.5 * cut_off, 0.0, 0.97)
    hit = boxes.visible & (rng.random((n, k)) >= miss)

    frame_index, actor_index = np.nonzero(hit)
    truth = boxes.clipped[frame_index, actor_index]
    sigma = config.det_jitter * np.maximum(boxes.drawn[frame_index, actor_index, 3], 8.0)
    jitter = rng.normal(0.0, 1.0, (len(truth), 4)) * sigma[:, None] * np.array([1.0, 1.0, 0.7, 0.7])
    true_boxes = truth + jitter
    quality = 1.0 - 0.5 * occluded[frame_index, actor_index] - 0.3 * small[frame_index, actor_index]
    true_conf = rng.beta(8.0, 1.8, len(truth)) * (0.55 + 0.45 * quality)

    n_anchors = 6
    anchors = _false_positive_anchors(camera, rng, n_anchors)
    anchor_rate = rng.uniform(0.5, 1.5, n_anchors)
    anchor_rate *= 0.6 * config.det_fp_per_frame / anchor_rate.sum()
    fires = rng.random((n, n_anchors)) < np.minimum(anchor_rate, 0.95)
    fp_frame, fp_anchor = np.nonzero(fires)
    recurring = anchors[fp_anchor] + rng.normal(0, 1.5, (len(fp_anchor), 4)) * np.array([1.0, 1.0, 0.5, 0.5])
    one_off_counts = rng.poisson(0.4 * config.det_fp_per_frame, n)
    one_off_frame = np.repeat(np.arange(n), one_off_counts)
    one_off = _false_positive_anchors(camera, rng, len(one_off_frame))
    fp_frames = np.concatenate([fp_frame, one_off_frame])
    fp_boxes = np.vstack([recurring, one_off])
    if path is not None:
        zoom = path.zoom[fp_frames, None]
        top_left = zoom * (fp_boxes[:, :2] - path.centre[fp_frames]) + np.array([camera.width, camera.height]) / 2
        fp_boxes = np.column_stack([top_left, zoom * fp_boxes[:, 2:]])
    fp_conf = rng.beta(2.0, 4.5, len(fp_frames))

    frames = np.concatenate([frame_index, fp_frames]) + 1
    track_ids = np.array([a.track_id for a in scene.actors])
    sources = np.concatenate([track_ids[actor_index], np.full(len(fp_frames), -1)])
    det_boxes = _clip_boxes(np.vstack([true_boxes, fp_boxes]), camera)
    conf = np.clip(np.concatenate([true_conf, fp_conf]), 0.01, 0.999)
    keep = (det_boxes[:, 2] >= 1.0) & (det_boxes[:, 3] >= 1.0)
    order = np.argsort(frames[keep], kind="stable")
    det = det_boxes[keep][order]
    minus = np.full(len(det), -1)
    return pd.DataFrame(
        {
            "frame": frames[keep][order],
            "id": minus,
            "x": det[:, 0],
            "y": det[:, 1],
            "w": det[:, 2],
            "h": det[:, 3],
            "conf": conf[keep][order],
            "a": minus,
            "b": minus,
            "c": minus,
            "track_id": sources[keep][order],
        },
        columns=[*DET_COLUMNS, "track_id"],
    )


def _clip_boxes(b: np.ndarray, camera: Camera) -> np.ndarray:
    x0 = np.clip(b[:, 0], 0, camera.width)
    y0 = np.clip(b[:, 1], 0, camera.height)
    x1 = np.clip(b[:, 0] + b[:, 2], 0, camera.width)
    y1 = np.clip(b[:, 1] + b[:, 3], 0, camera.height)
    return np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
