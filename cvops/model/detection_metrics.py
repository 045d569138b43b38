"""Detection quality: AP at IoU 0.5 per class (PASCAL VOC's all-point interpolated AP).

The AP is hand-written: the well-kept implementations either compute COCO's 101-point AP (pycocotools,
torchmetrics) or are not installed here, and VOC's all-point AP is a few lines. Matching follows VOC:
detections are taken in decreasing confidence; each is a true positive if its best-overlapping ground-truth
box of the same class and image has IoU >= the threshold and was not matched before, otherwise a false
positive (duplicates too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from cvops.model.data import DetectionDataset
from cvops.model.decode import detect
from cvops.model.identities import IdentityMap
from cvops.tracking.boxes import iou_xywh

BOX_COLUMNS = ["x", "y", "w", "h"]
# The classes the benchmark tracks (the ball is detected but not tracked).
TRACKED_CLASSES = ("player", "goalkeeper", "referee")


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the precision envelope (max precision at any higher recall), summed where recall changes."""
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.concatenate([[0.0], precision, [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    changes = np.flatnonzero(recall[1:] != recall[:-1])
    return float(np.sum((recall[changes + 1] - recall[changes]) * precision[changes + 1]))


def true_positive_flags(detections: pd.DataFrame, truth: pd.DataFrame, iou_threshold: float) -> np.ndarray:
    """VOC matching within one image and class; ``detections`` sorted by decreasing ``conf``."""
    flags = np.zeros(len(detections), dtype=bool)
    if truth.empty or detections.empty:
        return flags
    ious = iou_xywh(detections[BOX_COLUMNS].to_numpy(float), truth[BOX_COLUMNS].to_numpy(float))
    matched = np.zeros(len(truth), dtype=bool)
    for row, overlaps in enumerate(ious):
        best = int(np.argmax(overlaps))
        if overlaps[best] >= iou_threshold and not matched[best]:
            matched[best] = True
            flags[row] = True
    return flags


def scored_flags(detections: pd.DataFrame, truth: pd.DataFrame, iou_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Confidences and true-positive flags of one class's detections (VOC matching per image)."""
    if detections.empty:
        return np.zeros(0), np.zeros(0, dtype=bool)
    detections = detections.sort_values("conf", ascending=False, kind="stable")
    truth_by_image = dict(tuple(truth.groupby("image", sort=False)))
    scores, flags = [], []
    for image, image_detections in detections.groupby("image", sort=False):
        image_truth = truth_by_image.get(image, truth.iloc[:0])
        scores.append(image_detections["conf"].to_numpy(float))
        flags.append(true_positive_flags(image_detections, image_truth, iou_threshold))
    return np.concatenate(scores), np.concatenate(flags)


def _precision_recall(scores: np.ndarray, flags: np.ndarray, n_truth: int) -> tuple[np.ndarray, ...]:
    """Scores in decreasing order with the precision and recall of keeping every detection down to each."""
    order = np.argsort(-scores, kind="stable")
    tp = flags[order]
    true_positives = np.cumsum(tp)
    false_positives = np.cumsum(~tp)
    recall = true_positives / n_truth
    precision = true_positives / np.maximum(true_positives + false_positives, np.finfo(float).eps)
    return scores[order], precision, recall


def class_average_precision(detections: pd.DataFrame, truth: pd.DataFrame, iou_threshold: float = 0.5) -> float | None:
    """AP of one class; both frames have an ``image`` column and boxes. ``None`` when there is no ground
    truth."""
    if truth.empty:
        return None
    if detections.empty:
        return 0.0
    _, precision, recall = _precision_recall(*scored_flags(detections, truth, iou_threshold), len(truth))
    return average_precision(recall, precision)


def best_f1_threshold(
    detections: pd.DataFrame, truth: pd.DataFrame, classes: list[int], iou_threshold: float = 0.5
) -> tuple[float, float] | None:
    """The confidence at which the detections of ``classes`` (pooled, each matched within its class) reach their
    best F1, and that F1; ``None`` without ground truth or detections.

    This is the model's operating point for the tracker: a detector trained briefly or on few matches scores
    its true detections lower than a fully trained one, and a tracker that only starts tracks above a fixed
    0.5-0.6 (ByteTrack's published thresholds, tuned for YOLOX on MOT17) then misses most players.
    """
    wanted_truth = truth[truth["cls"].isin(classes)]
    parts = [scored_flags(detections[detections["cls"] == c], truth[truth["cls"] == c], iou_threshold) for c in classes]
    scores = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0)
    if wanted_truth.empty or scores.size == 0:
        return None
    ordered, precision, recall = _precision_recall(scores, np.concatenate([p[1] for p in parts]), len(wanted_truth))
    f1 = 2 * precision * recall / np.maximum(precision + recall, np.finfo(float).eps)
    best = int(np.argmax(f1))
    return float(ordered[best]), float(f1[best])


def ap50_per_class(
    detections: pd.DataFrame, truth: pd.DataFrame, class_names: list[str] | tuple[str, ...]
) -> dict[str, float | None]:
    """AP50 of every class; ``detections`` have ``image, x, y, w, h, conf, cls``, ``truth`` ``image, x, y,
    w, h, cls``."""
    return {
        name: class_average_precision(detections[detections["cls"] == cls], truth[truth["cls"] == cls], 0.5)
        for cls, name in enumerate(class_names)
    }


def summarise(
    ap50: dict[str, float | None],
    truth: pd.DataFrame,
    class_names: list[str],
    n_images: int,
    operating_point: tuple[float, float] | None = None,
) -> dict[str, Any]:
    present = [value for value in ap50.values() if value is not None]
    return {
        "n_images": n_images,
        "ap50": ap50,
        "player_ap50": ap50.get("player"),
        "map50": float(np.mean(present)) if present else None,
        "n_ground_truth": {name: int((truth["cls"] == cls).sum()) for cls, name in enumerate(class_names)},
        "track_score_threshold": operating_point[0] if operating_point else None,
        "track_f1": operating_point[1] if operating_point else None,
    }


def evaluate_detection(
    model: nn.Module,
    dataset_root: Path,
    split: str = "val",
    *,
    conf_threshold: float = 0.01,
    max_detections: int = 100,
    batch_size: int = 16,
    tracked_classes: tuple[str, ...] = TRACKED_CLASSES,
) -> dict[str, Any]:
    """AP50 per class (``None`` for classes absent from the split), ``player_ap50``, their mean ``map50``, and
    the tracker's operating point on ``tracked_classes`` (``track_score_threshold``, ``track_f1``: see
    :func:`best_f1_threshold`).

    Runs :func:`~cvops.model.decode.detect` on every image of the split, i.e. exactly the inference path the
    tracker uses; a low ``conf_threshold`` keeps the whole precision-recall curve.
    """
    input_size = (int(model.input_size[0]), int(model.input_size[1]))
    dataset = DetectionDataset(Path(dataset_root), split, input_size, identity_map=IdentityMap(()))
    class_names = list(model.class_names)
    detection_frames, truth_frames = [], []
    for start in range(0, len(dataset), batch_size):
        indices = range(start, min(start + batch_size, len(dataset)))
        found = detect(
            model,
            [dataset.load_image(i) for i in indices],
            conf_threshold,
            max_detections=max_detections,
            batch_size=batch_size,
        )
        for index, frame in zip(indices, found, strict=True):
            detection_frames.append(frame.drop(columns=["embedding", "role"]).assign(image=index))
            labels = dataset.frame_labels(index)
            truth_frames.append(pd.DataFrame(labels.boxes, columns=BOX_COLUMNS).assign(cls=labels.classes, image=index))
    empty_truth = pd.DataFrame(columns=[*BOX_COLUMNS, "cls", "image"])
    detections = pd.concat(detection_frames, ignore_index=True) if detection_frames else empty_truth.assign(conf=[])
    truth = pd.concat(truth_frames, ignore_index=True) if truth_frames else empty_truth
    ap50 = ap50_per_class(detections, truth, class_names)
    tracked = [cls for cls, name in enumerate(class_names) if name in tracked_classes]
    return summarise(ap50, truth, class_names, len(dataset), best_f1_threshold(detections, truth, tracked))
