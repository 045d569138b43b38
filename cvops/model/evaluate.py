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


def class_average_precision(detections: pd.DataFrame, truth: pd.DataFrame, iou_threshold: float = 0.5) -> float | None:
    """AP of one class; both frames have an ``image`` column and boxes. ``None`` when there is no ground
    truth."""
    if truth.empty:
        return None
    if detections.empty:
        return 0.0
    detections = detections.sort_values("conf", ascending=False, kind="stable")
    truth_by_image = dict(tuple(truth.groupby("image", sort=False)))
    scores, flags = [], []
    for image, image_detections in detections.groupby("image", sort=False):
        image_truth = truth_by_image.get(image, truth.iloc[:0])
        scores.append(image_detections["conf"].to_numpy(float))
        flags.append(true_positive_flags(image_detections, image_truth, iou_threshold))
    order = np.argsort(-np.concatenate(scores), kind="stable")
    tp = np.concatenate(flags)[order]
    true_positives = np.cumsum(tp)
    false_positives = np.cumsum(~tp)
    recall = true_positives / len(truth)
    precision = true_positives / np.maximum(true_positives + false_positives, np.finfo(float).eps)
    return average_precision(recall, precision)


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
    ap50: dict[str, float | None], truth: pd.DataFrame, class_names: list[str], n_images: int
) -> dict[str, Any]:
    present = [value for value in ap50.values() if value is not None]
    return {
        "n_images": n_images,
        "ap50": ap50,
        "player_ap50": ap50.get("player"),
        "map50": float(np.mean(present)) if present else None,
        "n_ground_truth": {name: int((truth["cls"] == cls).sum()) for cls, name in enumerate(class_names)},
    }


def evaluate_detection(
    model: nn.Module,
    dataset_root: Path,
    split: str = "val",
    *,
    conf_threshold: float = 0.01,
    max_detections: int = 100,
    batch_size: int = 16,
) -> dict[str, Any]:
    """AP50 per class (``None`` for classes absent from the split), ``player_ap50`` and their mean ``map50``.

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
    return summarise(ap50, truth, class_names, len(dataset))
