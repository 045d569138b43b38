"""A dataset version as plain files, for whoever wants files: one JPEG per sample, Parquet metadata and COCO.

The folder written is the ``files`` layout (``cvops.datasets.layout``), which training reads too::

    images/<match_id>/<frame:06d>.jpg
    manifest.parquet, labels/train.parquet, labels/val.parquet
    annotations/instances_train.json, annotations/instances_val.json   (COCO; file_name is the image path)
    export.yaml                                                          (the version's record, when it has one)

It is built in a temporary folder beside ``out`` and renamed into place, so ``out`` is either absent or complete.
"""

from __future__ import annotations

import io
import logging
import shutil
import uuid
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from cvops.datasets.coco import coco_json
from cvops.datasets.layout import (
    EXPORT_YAML,
    LABEL_SCHEMA,
    LAYOUT_FILES,
    MANIFEST,
    MANIFEST_SCHEMA,
    SPLITS,
    annotations_file,
    labels_file,
    table_from_frame,
)
from cvops.datasets.reader import ImageReader, VersionData
from cvops.errors import InputError
from cvops.io import write_parquet_atomic, write_text_atomic

logger = logging.getLogger(__name__)


def _pixel_sizes(images: ImageReader) -> tuple[np.ndarray, np.ndarray]:
    """Width and height of each image (a ``files`` version's manifest does not record them)."""
    sizes = np.zeros((len(images), 2), dtype=np.int64)
    for index in range(len(images)):
        with Image.open(io.BytesIO(images.read(index))) as image:
            sizes[index] = image.size
    return sizes[:, 0], sizes[:, 1]


def write_version_files(data: VersionData, out: str | Path) -> int:
    """Write the version ``data`` into the new folder ``out`` as plain files; returns the number of images."""
    out = Path(out).expanduser().absolute()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("the output folder exists and is not empty: choose a new folder", file=out)
    manifest = data.manifest()
    labels = data.labels(manifest)
    images = data.images(manifest)
    if data.layout == LAYOUT_FILES:
        widths, heights = _pixel_sizes(images)
        manifest = manifest.assign(width=widths, height=heights)
    out.parent.mkdir(parents=True, exist_ok=True)
    building = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        written = set()
        for index, path in enumerate(manifest["path"]):
            target = building / path
            if target.parent not in written:
                target.parent.mkdir(parents=True, exist_ok=True)
                written.add(target.parent)
            target.write_bytes(images.read(index))
        write_parquet_atomic(building / MANIFEST, table_from_frame(manifest, MANIFEST_SCHEMA))
        for split in SPLITS:
            split_labels = labels[labels["split"] == split]
            write_parquet_atomic(building / labels_file(split), table_from_frame(split_labels, LABEL_SCHEMA))
            split_images = manifest[manifest["split"] == split]
            document = coco_json(split_images, split_labels, description=f"cvops {split} split")
            write_text_atomic(building / annotations_file(split), document)
        if data.record is not None:
            write_text_atomic(building / EXPORT_YAML, yaml.safe_dump(data.record, sort_keys=False))
        if out.exists():
            out.rmdir()
        building.rename(out)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    logger.info("wrote %d images of %s to %s", len(manifest), data.name, out)
    return len(manifest)
