"""CVAT's "CVAT for video 1.1" XML: reading a task's tracks, writing tracks CVAT imports as pre-annotations.

The format is CVAT's own (docs.cvat.ai, "XML annotation format", version 1.1); what is read and written here
follows CVAT 2.x's dataset manager, ``cvat/apps/dataset_manager/formats/cvat.py`` (``dump_as_cvat_interpolation``,
``load_anno``) and ``bindings.py`` (``TaskData``, ``abs_frame_id``). The facts this module relies on:

* a track is one ``<track id label source>`` with one element per frame (``<box frame keyframe outside occluded
  xtl ytl xbr ybr z_order>``); an export writes every frame of a track, the interpolated ones with
  ``keyframe="0"``, and CVAT's importer keeps only ``keyframe="1"`` rows and interpolates the rest itself;
* ``frame`` is the frame number in the task's source, 0-based: for a video task, the video's frame index. A task
  holds the frames ``start_frame, start_frame + step, ... <= stop_frame`` (``step`` from ``frame_filter``,
  ``step=N``; CVAT's ``Data.get_frame_step``), and its UI counts them 0, 1, 2, ...;
* between two keyframes a box is interpolated linearly; from an ``outside`` keyframe on, the object is hidden
  until its next keyframe; after a track's last keyframe, if it is not outside, CVAT keeps drawing its box to
  the end of the task (``TrackManager.get_interpolated_shapes``, ``propagate``);
* ``<meta><task>`` (or ``<job>``) carries ``size``, ``mode``, ``start_frame``, ``stop_frame``, ``frame_filter``,
  the labels and, for video tasks, ``original_size`` (width, height; inside ``<task>``, or directly in ``<meta>``
  for a job export) and ``source`` (the video's file name).

The XML is parsed with ``defusedxml`` (a file from outside: no entity expansion, no external entities) as a
stream, so a long match's export is never held whole in memory as a tree.
"""

from __future__ import annotations

import contextlib
import math
import re
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import defusedxml.ElementTree as SafeET
import pandas as pd
from defusedxml import DefusedXmlException

from cvops.errors import InputError
from cvops.io import atomic_path

FORMAT_VERSION = "1.1"
SHAPE_TAGS = ("box", "polygon", "polyline", "points", "ellipse", "cuboid", "mask", "skeleton")
CVAT_KEYFRAME_COLUMNS = ("track", "label", "frame", "x", "y", "w", "h", "outside", "occluded")
PSEUDO_LABEL_ATTRIBUTE = "pseudo_label"
"""The checkbox attribute that marks a model's box in a task cvops writes (``true`` on pseudo-labels)."""
_STEP = re.compile(r"step\s*=\s*([1-9]\d*)")  # CVAT's own pattern (engine/models.py, Data.get_frame_step)


@dataclass(frozen=True)
class CvatTask:
    """What an export's ``<meta>`` says about the task (or job) it came from."""

    name: str
    mode: str
    size: int | None
    start_frame: int
    stop_frame: int | None
    step: int
    original_size: tuple[int, int] | None
    """``(width, height)`` of the video, for video tasks."""
    source: str | None
    labels: tuple[str, ...]
    updated: str | None

    @property
    def last_frame(self) -> int | None:
        """The task's last frame (CVAT numbering): the last ``start_frame + k * step`` not past ``stop_frame``."""
        if self.stop_frame is not None:
            return self.start_frame + (self.stop_frame - self.start_frame) // self.step * self.step
        if self.size is not None:
            return self.start_frame + (self.size - 1) * self.step
        return None

    def check_frame(self, frame: int, where: str, file: Path) -> None:
        """Raise unless ``frame`` is one of the task's frames."""
        last = self.last_frame
        if frame < self.start_frame or (last is not None and frame > last) or (frame - self.start_frame) % self.step:
            raise InputError(
                f"{where}: frame {frame} is not a frame of the task (start_frame={self.start_frame}, "
                f"stop_frame={self.stop_frame}, frame_filter step={self.step})",
                file=file,
                field="frame",
            )


@dataclass(frozen=True)
class CvatTracks:
    """The box tracks of an export, as keyframes in CVAT's numbering, and what was left out."""

    task: CvatTask
    keyframes: pd.DataFrame
    """``CVAT_KEYFRAME_COLUMNS``: every ``keyframe="1"`` box (``outside`` ones included) with its track id, label
    and CVAT frame; ``x, y, w, h`` in pixels (top-left corner, size)."""
    interpolated: pd.DataFrame
    """The export's ``keyframe="0"`` boxes that are shown (not outside), same columns: what CVAT drew between
    keyframes, kept to check that the keyframes reproduce it."""
    skipped_tracks: dict[str, int] = field(default_factory=dict)
    """Tracks of other shape types (polygon, points, skeleton, ...), by type."""
    skipped_shapes: dict[str, int] = field(default_factory=dict)
    """Their shapes, by type."""


def read_cvat_video_xml(path: str | Path) -> CvatTracks:
    """Read a "CVAT for video 1.1" export: the zip CVAT downloads, or the ``annotations.xml`` inside it.

    Raises an ``InputError`` naming the file, and the track and frame where it applies, for anything this
    module cannot read faithfully: another format version, a project export (several tasks), a "CVAT for
    images" export, a rotated box, a box without area, two keyframes of one track on one frame.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=path)
    with _open_annotations(path) as source:
        return _parse(source, path)


@contextlib.contextmanager
def _open_annotations(path: Path) -> Iterator[IO[bytes]]:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if "annotations.xml" not in archive.namelist():
                raise InputError("the zip has no annotations.xml (is it a CVAT export?)", file=path)
            with archive.open("annotations.xml") as member:
                yield member
    else:
        with open(path, "rb") as handle:
            yield handle


def _parse(source: IO[bytes], path: Path) -> CvatTracks:
    keyframes: list[tuple] = []
    interpolated: list[tuple] = []
    skipped_tracks: Counter[str] = Counter()
    skipped_shapes: Counter[str] = Counter()
    task: CvatTask | None = None
    version: str | None = None
    try:
        events = SafeET.iterparse(source, events=("start", "end"))
        root_seen = False
        for event, element in events:
            if not root_seen:
                if element.tag != "annotations":
                    raise InputError(f"not a CVAT XML export: the root is <{element.tag}>", file=path)
                root_seen = True
                continue
            if event != "end":
                continue
            if element.tag == "version":
                version = (element.text or "").strip()
                if version != FORMAT_VERSION:
                    raise InputError(
                        f"CVAT XML version {version!r}; cvops reads version {FORMAT_VERSION}",
                        file=path,
                        field="version",
                    )
            elif element.tag == "meta":
                task = _read_meta(element, path)
                element.clear()
            elif element.tag == "image":
                raise InputError(
                    "this is a 'CVAT for images' export (annotations per image); export the task as "
                    "'CVAT for video 1.1' to keep its tracks",
                    file=path,
                )
            elif element.tag == "track":
                if task is None:
                    raise InputError("a <track> comes before <meta>", file=path)
                _read_track(element, task, path, keyframes, interpolated, skipped_tracks, skipped_shapes)
                element.clear()
    except ET.ParseError as exc:
        raise InputError(f"not well-formed XML: {exc}", file=path) from None
    except DefusedXmlException as exc:
        raise InputError(f"refused XML construct ({type(exc).__name__}): {exc}", file=path) from None
    if version is None:
        raise InputError("no <version> element: not a CVAT XML export", file=path)
    if task is None:
        raise InputError("no <meta> element: not a CVAT XML export", file=path)
    frame = _keyframe_table(keyframes)
    duplicated = frame.duplicated(["track", "frame"], keep=False)
    if duplicated.any():
        first = frame[duplicated].iloc[0]
        raise InputError(f"track id={first.track} has two boxes on frame {first.frame}", file=path, field="frame")
    return CvatTracks(task, frame, _keyframe_table(interpolated), dict(skipped_tracks), dict(skipped_shapes))


def _keyframe_table(rows: list[tuple]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=list(CVAT_KEYFRAME_COLUMNS))
    table = table.astype(
        {"track": "int64", "label": "string", "frame": "int64", "outside": "bool", "occluded": "bool"}
        | {name: "float64" for name in ("x", "y", "w", "h")}
    )
    return table.sort_values(["track", "frame"], kind="stable").reset_index(drop=True)


def _read_meta(meta: ET.Element, path: Path) -> CvatTask:
    if meta.find("project") is not None:
        raise InputError(
            "this is a project export (several tasks); export the one task (or job) of the match", file=path
        )
    task = meta.find("task")
    if task is None:
        task = meta.find("job")
    if task is None:
        raise InputError("<meta> has neither <task> nor <job>", file=path)

    def text(parent: ET.Element, name: str) -> str | None:
        found = parent.find(name)
        return found.text.strip() if found is not None and found.text is not None else None

    def integer(parent: ET.Element, name: str, *, minimum: int) -> int | None:
        value = text(parent, name)
        if value is None or value == "":
            return None
        if not value.isdigit() or int(value) < minimum:
            raise InputError(f"expected an integer >= {minimum}, got {value[:40]!r}", file=path, field=name)
        return int(value)

    size = task.find("original_size")
    if size is None:
        size = meta.find("original_size")
    original_size = None
    if size is not None:
        width, height = integer(size, "width", minimum=1), integer(size, "height", minimum=1)
        if width is None or height is None:
            raise InputError("<original_size> needs <width> and <height>", file=path, field="original_size")
        original_size = (width, height)
    step_match = _STEP.search(text(task, "frame_filter") or "")
    labels = tuple(name.text.strip() for name in task.iterfind("labels/label/name") if name.text and name.text.strip())
    return CvatTask(
        name=text(task, "name") or "",
        mode=text(task, "mode") or "",
        size=integer(task, "size", minimum=0),
        start_frame=integer(task, "start_frame", minimum=0) or 0,
        stop_frame=integer(task, "stop_frame", minimum=0),
        step=int(step_match.group(1)) if step_match else 1,
        original_size=original_size,
        source=text(task, "source") or text(meta, "source"),
        labels=labels,
        updated=text(task, "updated") or text(meta, "dumped"),
    )


def _read_track(
    track: ET.Element,
    task: CvatTask,
    path: Path,
    keyframes: list[tuple],
    interpolated: list[tuple],
    skipped_tracks: Counter[str],
    skipped_shapes: Counter[str],
) -> None:
    track_id_text = track.get("id", "")
    if not track_id_text.lstrip("-").isdigit():
        raise InputError(f"a <track> has no integer id (got {track_id_text[:40]!r})", file=path, field="id")
    track_id = int(track_id_text)
    label = track.get("label")
    if not label:
        raise InputError(f"track id={track_id} has no label", file=path, field="label")
    shapes = [child for child in track if child.tag in SHAPE_TAGS]
    kinds = Counter(child.tag for child in shapes)
    if set(kinds) - {"box"}:
        for kind, count in kinds.items():
            skipped_shapes[kind] += count
        skipped_tracks[next(iter(kinds))] += 1
        return
    for box in shapes:
        where = f"track id={track_id}, box frame={box.get('frame')}"
        frame = _attribute_int(box, "frame", where, path)
        task.check_frame(frame, where, path)
        keyframe = _flag(box, "keyframe", where, path, default=None)
        outside = _flag(box, "outside", where, path, default=False)
        occluded = _flag(box, "occluded", where, path, default=False)
        rotation = _attribute_float(box, "rotation", where, path, default=0.0)
        if rotation % 360:
            raise InputError(
                f"{where}: a box rotated by {rotation:g} degrees; the label store holds axis-aligned boxes",
                file=path,
                field="rotation",
            )
        xtl, ytl, xbr, ybr = (_attribute_float(box, name, where, path) for name in ("xtl", "ytl", "xbr", "ybr"))
        if not outside and (xbr <= xtl or ybr <= ytl):
            raise InputError(
                f"{where}: a box without area (xtl={xtl:g}, ytl={ytl:g}, xbr={xbr:g}, ybr={ybr:g})",
                file=path,
                field="xbr" if xbr <= xtl else "ybr",
            )
        row = (track_id, label, frame, xtl, ytl, xbr - xtl, ybr - ytl, outside, occluded)
        if keyframe:
            keyframes.append(row)
        elif not outside:
            interpolated.append(row)


def _attribute_float(element: ET.Element, name: str, where: str, path: Path, default: float | None = None) -> float:
    text = element.get(name)
    if text is None:
        if default is not None:
            return default
        raise InputError(f"{where}: missing attribute {name!r}", file=path, field=name)
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{where}: expected a number, got {text[:40]!r}", file=path, field=name) from None
    if not math.isfinite(value):
        raise InputError(f"{where}: expected a finite number, got {text[:40]!r}", file=path, field=name)
    return value


def _attribute_int(element: ET.Element, name: str, where: str, path: Path) -> int:
    text = element.get(name)
    if text is None or not text.strip().isdigit():
        raise InputError(f"{where}: expected a frame number >= 0, got {text!r}", file=path, field=name)
    return int(text)


def _flag(element: ET.Element, name: str, where: str, path: Path, *, default: bool | None) -> bool:
    text = element.get(name)
    if text is None:
        if default is None:
            raise InputError(f"{where}: missing attribute {name!r}", file=path, field=name)
        return default
    if text not in ("0", "1"):
        raise InputError(f"{where}: expected 0 or 1, got {text[:40]!r}", file=path, field=name)
    return text == "1"


@dataclass(frozen=True)
class CvatTaskSpec:
    """The task a written XML belongs to: what to give CVAT when creating it (``cvops export-cvat``'s
    ``task.json``) and what the XML's ``<meta>`` says."""

    name: str
    size: int
    mode: str
    start_frame: int
    stop_frame: int
    step: int
    labels: tuple[str, ...]
    original_size: tuple[int, int] | None
    source: str | None

    def labels_json(self) -> list[dict]:
        """The labels as CVAT's REST API and ``cvat-cli create --labels`` take them: rectangles, each with the
        ``pseudo_label`` checkbox that marks a model's boxes."""
        return [
            {
                "name": name,
                "type": "rectangle",
                "attributes": [
                    {
                        "name": PSEUDO_LABEL_ATTRIBUTE,
                        "input_type": "checkbox",
                        "mutable": False,
                        "values": ["false"],
                        "default_value": "false",
                    }
                ],
            }
            for name in self.labels
        ]


def write_cvat_video_xml(
    path: str | Path, spec: CvatTaskSpec, keyframes: pd.DataFrame, *, pseudo_labels: bool, dumped: str
) -> None:
    """Write ``keyframes`` (``CVAT_KEYFRAME_COLUMNS``, CVAT frame numbers, every box a keyframe) as a "CVAT for
    video 1.1" XML that CVAT's importer ("CVAT 1.1") takes as the task's annotations.

    Boxes are written with two decimals, as CVAT writes them. Tracks made by a model are marked twice: the
    track's ``source`` is ``auto`` and every box carries ``pseudo_label=true`` (an attribute of the task's labels,
    so it survives an import into CVAT and a later export).
    """
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = FORMAT_VERSION
    meta = ET.SubElement(root, "meta")
    task = ET.SubElement(meta, "task")
    for name, value in (
        ("name", spec.name),
        ("size", str(spec.size)),
        ("mode", spec.mode),
        ("overlap", "0"),
        ("start_frame", str(spec.start_frame)),
        ("stop_frame", str(spec.stop_frame)),
        ("frame_filter", f"step={spec.step}" if spec.step > 1 else ""),
    ):
        ET.SubElement(task, name).text = value
    labels = ET.SubElement(task, "labels")
    for label in spec.labels_json():
        node = ET.SubElement(labels, "label")
        ET.SubElement(node, "name").text = label["name"]
        ET.SubElement(node, "type").text = label["type"]
        attributes = ET.SubElement(node, "attributes")
        for attribute in label["attributes"]:
            spec_node = ET.SubElement(attributes, "attribute")
            ET.SubElement(spec_node, "name").text = attribute["name"]
            ET.SubElement(spec_node, "mutable").text = str(attribute["mutable"])
            ET.SubElement(spec_node, "input_type").text = attribute["input_type"]
            ET.SubElement(spec_node, "default_value").text = attribute["default_value"]
            ET.SubElement(spec_node, "values").text = "\n".join(attribute["values"])
    if spec.original_size is not None:
        size = ET.SubElement(task, "original_size")
        ET.SubElement(size, "width").text = str(spec.original_size[0])
        ET.SubElement(size, "height").text = str(spec.original_size[1])
    if spec.source:
        ET.SubElement(task, "source").text = spec.source
    ET.SubElement(meta, "dumped").text = dumped
    pseudo = "true" if pseudo_labels else "false"
    for (track_id, label), boxes in _tracks(keyframes):
        track = ET.SubElement(
            root, "track", {"id": str(track_id), "label": label, "source": "auto" if pseudo_labels else "manual"}
        )
        for row in boxes.itertuples(index=False):
            box = ET.SubElement(
                track,
                "box",
                {
                    "frame": str(int(row.frame)),
                    "keyframe": "1",
                    "outside": str(int(row.outside)),
                    "occluded": str(int(row.occluded)),
                    "xtl": f"{row.x:.2f}",
                    "ytl": f"{row.y:.2f}",
                    "xbr": f"{row.x + row.w:.2f}",
                    "ybr": f"{row.y + row.h:.2f}",
                    "z_order": "0",
                },
            )
            ET.SubElement(box, "attribute", {"name": PSEUDO_LABEL_ATTRIBUTE}).text = pseudo
    ET.indent(root, space="  ")
    with atomic_path(path) as tmp:
        ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)


def _tracks(keyframes: pd.DataFrame) -> Iterator[tuple[tuple[int, str], pd.DataFrame]]:
    ordered = keyframes.sort_values(["track", "frame"], kind="stable")
    for track_id, boxes in ordered.groupby("track", sort=True):
        yield (int(track_id), str(boxes["label"].iloc[0])), boxes
