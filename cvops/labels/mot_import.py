"""Importing MOT Challenge and SoccerNet-tracking sequences into a label store.

Public tracking datasets share one layout per sequence: ``seqinfo.ini`` (name, frame rate, length, size),
``gt/gt.txt`` (one row per box and frame) and either the frames as images (``img1/000001.jpg``, as MOT17 and
SoccerNet) or a video file beside them (as SoccerTrack v2). SoccerNet adds ``gameinfo.ini``, which names each
tracklet's role (``trackletID_3= goalkeeper team left;1``). Every ground-truth row becomes a keyframe (nothing
needs interpolating), and image sequences are encoded once into an H.264 mp4 in the store, because cvops reads
frames from videos (so a dataset never holds more than the frames it selected).

CVAT's "MOT 1.1" export has no ``seqinfo.ini``: the sequence's size and length then come from its video or its
images (the frame rate from the video, or from ``fps`` for images), and ``gt/labels.txt`` names the classes of
``gt.txt``'s class column (line ``i`` is class ``i``, 1-based), which give the roles.
"""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pandas as pd
from PIL import Image

from cvops.errors import InputError
from cvops.io import atomic_path
from cvops.labels.store import LabelStore, validate_match_id
from cvops.tracking.mot import read_mot_gt

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".m3u8")
_ROLE_WORDS = {
    "player": "player",
    "players": "player",
    "person": "player",
    "pedestrian": "player",
    "goalkeeper": "goalkeeper",
    "goalkeepers": "goalkeeper",
    "referee": "referee",
    "referees": "referee",
    "ball": "ball",
}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True)
class Sequence:
    folder: Path
    name: str
    fps: Fraction
    n_frames: int
    width: int
    height: int
    image_dir: Path | None
    image_ext: str
    video: Path | None


def find_sequences(source: Path) -> list[Path]:
    """``source`` itself if it is a sequence, else every sequence folder below it (sorted)."""
    if (source / "gt" / "gt.txt").is_file():
        return [source]
    found = sorted(p.parent.parent for p in source.glob("**/gt/gt.txt"))
    if not found:
        raise InputError("no MOT sequence found (expected <sequence>/gt/gt.txt)", file=source)
    return found


def read_sequence(folder: Path, *, fps: Fraction | None = None) -> Sequence:
    """The sequence's properties from its ``seqinfo.ini``, or, without one (CVAT's MOT export), from its video or
    images; ``fps`` gives an image sequence's frame rate (and must agree with a video's or seqinfo's)."""
    videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if not (folder / "seqinfo.ini").is_file():
        return _sequence_without_seqinfo(folder, videos, fps)
    path = folder / "seqinfo.ini"
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    if "Sequence" not in parser:
        raise InputError("missing [Sequence] section", file=path)
    info = parser["Sequence"]

    def number(key: str, kind=int):
        text = info.get(key)
        if text is None:
            raise InputError("missing key", file=path, field=key)
        try:
            value = kind(text.strip())
        except ValueError:
            raise InputError(f"expected a number, got {text!r}", file=path, field=key) from None
        if value <= 0:
            raise InputError(f"expected a positive number, got {text!r}", file=path, field=key)
        return value

    image_dir = folder / info.get("imDir", "img1").strip()
    if not image_dir.is_dir() and not videos:
        raise InputError(f"neither an image folder ({image_dir.name}/) nor a video file", file=folder)
    rate = Fraction(info.get("frameRate", "25").strip()).limit_denominator(1001)
    if fps is not None and fps != rate:
        raise InputError(f"--fps {fps} disagrees with frameRate {rate}", file=path, field="frameRate")
    return Sequence(
        folder=folder,
        name=info.get("name", folder.name).strip() or folder.name,
        fps=rate,
        n_frames=number("seqLength"),
        width=number("imWidth"),
        height=number("imHeight"),
        image_dir=image_dir if image_dir.is_dir() else None,
        image_ext=info.get("imExt", ".jpg").strip(),
        video=videos[0] if videos else None,
    )


def _sequence_without_seqinfo(folder: Path, videos: list[Path], fps: Fraction | None) -> Sequence:
    """CVAT's MOT export: size, length and rate from the sequence's video, else from its images and ``fps``."""
    if videos:
        from cvops.labels.cvat_import import probe_local_video

        width, height, rate, n_frames = probe_local_video(videos[0])
        if fps is not None and fps != rate:
            raise InputError(f"--fps {fps} disagrees with the video's frame rate {rate}", file=videos[0])
        return Sequence(folder, folder.name, rate, n_frames, width, height, None, ".jpg", videos[0])
    image_dir = next((folder / name for name in ("img1", "images") if (folder / name).is_dir()), None)
    images = sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if image_dir else []
    if not images:
        raise InputError(
            "no seqinfo.ini, and neither a video nor images (img1/ or images/) to take the size and length from",
            file=folder,
        )
    if fps is None:
        raise InputError(
            "no seqinfo.ini and no video: the frame rate of an image sequence must be given (--fps)", file=folder
        )
    with Image.open(images[0]) as first:
        width, height = first.size
    expected = [f"{i:06d}{images[0].suffix}" for i in range(1, len(images) + 1)]
    if [p.name for p in images] != expected:
        raise InputError(
            f"images must be named 000001{images[0].suffix} ... without gaps (as MOT and CVAT write them)",
            file=image_dir,
        )
    return Sequence(folder, folder.name, fps, len(images), width, height, image_dir, images[0].suffix, None)


def class_names(folder: Path) -> dict[int, str]:
    """Class id (1-based line number) to name, from CVAT's ``gt/labels.txt`` (empty when there is none)."""
    path = folder / "gt" / "labels.txt"
    if not path.is_file():
        return {}
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return {number: name for number, name in enumerate(names, start=1) if name}


def tracklet_roles(folder: Path) -> dict[int, str]:
    """Roles per track id from SoccerNet's ``gameinfo.ini`` (empty when there is none)."""
    path = folder / "gameinfo.ini"
    if not path.is_file():
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    roles = {}
    for section in parser.sections():
        for key, value in parser[section].items():
            found = re.fullmatch(r"trackletid_(\d+)", key.strip().lower())
            if found:
                first_word = value.strip().split(";")[0].split()[0].lower() if value.strip() else ""
                roles[int(found.group(1))] = _ROLE_WORDS.get(first_word, "other")
    return roles


def sequence_keyframes(sequence: Sequence) -> pd.DataFrame:
    """The sequence's ground truth as keyframes: boxes flagged not-to-evaluate (conf 0) are left out."""
    gt = read_mot_gt(sequence.folder / "gt" / "gt.txt")
    if "conf" in gt.columns:
        gt = gt[gt["conf"] != 0]
    roles = tracklet_roles(sequence.folder)
    names = class_names(sequence.folder)
    if roles:
        role = gt["id"].map(roles).fillna("other")
    elif names and "cls" in gt.columns:
        by_class = {number: _ROLE_WORDS.get(name.lower(), "other") for number, name in names.items()}
        unknown = sorted(set(gt["cls"].astype(int)) - set(by_class))
        if unknown:
            raise InputError(
                f"class {unknown[0]} of gt.txt is not a line of labels.txt ({len(names)} classes)",
                file=sequence.folder / "gt" / "gt.txt",
                field="class",
            )
        role = gt["cls"].astype(int).map(by_class)
    elif "cls" in gt.columns:
        # MOT17 classes: 1 is a pedestrian (our "player"); the rest are distractors and vehicles.
        role = np.where(gt["cls"] == 1, "player", "other")
    else:
        role = "player"
    keyframes = pd.DataFrame(
        {
            "frame": gt["frame"].astype("int64"),
            "track_id": gt["id"].astype("int64"),
            "role": role,
            "x": gt["x"],
            "y": gt["y"],
            "w": gt["w"],
            "h": gt["h"],
        }
    )
    return keyframes.sort_values(["frame", "track_id"], kind="stable").reset_index(drop=True)


def encode_images(sequence: Sequence, destination: Path, *, crf: int = 18, gop: int = 50) -> Path:
    """Encode the image sequence to H.264 (near-lossless, so labels keep matching the pixels)."""
    if sequence.image_dir is None:
        raise InputError("the sequence has no image folder to encode", file=sequence.folder)
    frames = [sequence.image_dir / f"{i:06d}{sequence.image_ext}" for i in range(1, sequence.n_frames + 1)]
    missing = [f for f in frames if not f.is_file()]
    if missing:
        raise InputError(
            f"{len(missing)} of {len(frames)} frames missing, first {missing[0].name}", file=sequence.image_dir
        )
    with atomic_path(destination) as tmp, av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=sequence.fps)
        stream.width, stream.height, stream.pix_fmt = sequence.width, sequence.height, "yuv420p"
        stream.options = {"crf": str(crf), "g": str(gop), "preset": "veryfast"}
        for path in frames:
            image = np.asarray(Image.open(path).convert("RGB"))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return destination


def import_mot(
    source: str | Path, store_root: str | Path, *, overwrite: bool = False, fps: Fraction | None = None
) -> list[str]:
    """Import every sequence under ``source`` into the store; returns the match ids written. ``fps`` is the frame
    rate of image sequences without ``seqinfo.ini`` (CVAT's MOT export)."""
    source, store = Path(source), LabelStore(store_root)
    existing = set(store.read_matches().matches) if store.matches_file.exists() else set()
    rows = []
    for folder in find_sequences(source):
        sequence = read_sequence(folder, fps=fps)
        match_id = re.sub(r"[^A-Za-z0-9_-]", "-", sequence.name)[:64]
        validate_match_id(match_id, file=folder)
        if match_id in existing and not overwrite:
            raise InputError(f"match {match_id!r} is already in the store (use --overwrite)", file=store.matches_file)
        keyframes = sequence_keyframes(sequence)
        if sequence.video is not None:
            video = str(sequence.video.resolve())
        else:
            encode_images(sequence, store.root / "videos" / f"{match_id}.mp4")
            video = f"videos/{match_id}.mp4"
        store.write_keyframes(match_id, keyframes)
        annotated = datetime.fromtimestamp(os.path.getmtime(folder / "gt" / "gt.txt"), tz=UTC)
        rows.append(
            {
                "match_id": match_id,
                "video": video,
                "fps": str(sequence.fps),
                "width": str(sequence.width),
                "height": str(sequence.height),
                "n_frames": str(sequence.n_frames),
                "pitch": "unknown",
                "home_team": "unknown",
                "away_team": "unknown",
                "weather": "unknown",
                "kickoff": "",
                "annotated_at": annotated.isoformat(),
                "status": "annotated",
            }
        )
    store.upsert_match_rows(rows)
    return [row["match_id"] for row in rows]
