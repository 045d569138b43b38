"""Builders of small, hand-made label stores for tests."""

from __future__ import annotations

import csv
from pathlib import Path

from cvops.labels import KEYFRAME_COLUMNS, MATCH_COLUMNS


def match_row(match_id: str, /, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "match_id": match_id,
        "video": f"videos/{match_id}.mp4",
        "fps": 25,
        "width": 640,
        "height": 360,
        "n_frames": 50,
        "pitch": "north",
        "home_team": "lions",
        "away_team": "bears",
        "weather": "clear",
        "kickoff": "2026-01-01T15:00:00+00:00",
        "annotated_at": "2026-02-01T10:00:00+00:00",
        "status": "annotated",
    }
    row.update(overrides)
    return row


def player_keyframes(n_players: int = 12, n_frames: int = 50) -> list[dict[str, object]]:
    """Players walking right, a keyframe at the first, middle and last frame."""
    rows = []
    for track in range(1, n_players + 1):
        for frame in (1, n_frames // 2, n_frames):
            rows.append(
                {
                    "frame": frame,
                    "track_id": track,
                    "role": "player",
                    "x": 20.0 * track + frame,
                    "y": 100.0 + track,
                    "w": 10.0,
                    "h": 20.0,
                }
            )
    return rows


def write_csv(path: Path, columns: tuple[str, ...] | list[str], rows: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_store(root: Path, matches: list[dict[str, object]], keyframes: dict[str, list[dict[str, object]]]) -> Path:
    """A label store with the given matches.csv rows and keyframes per match."""
    write_csv(root / "matches.csv", MATCH_COLUMNS, matches)
    for match_id, rows in keyframes.items():
        write_csv(root / match_id / "keyframes.csv", KEYFRAME_COLUMNS, rows)
    return root
