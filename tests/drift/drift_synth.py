"""Synthetic matches run through the real cleaning and frame selection, summarised for the drift tests.

``generate_store`` renders videos too (about half a second per short match), which the drift statistics never
read; the labels and detections it writes are what a user's label store holds, read back with the public
readers exactly as the ``raw_labels``, ``match_predictions`` and ``cleaned_tracks`` assets read them.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from cvops.cleaning import VideoInfo, clean_match
from cvops.drift import MatchStatistics, match_statistics
from cvops.labels import LabelStore, interpolate_keyframes
from cvops.selection import FrameSelectionConfig, select_frames
from cvops.tracking import read_mot_detections

# Synthetic matches are seconds long: one candidate every 5 frames gives enough candidates for a share.
FRAME_SELECTION = FrameSelectionConfig(frame_step=5)


def store_statistics(root: Path, match_ids: list[str] | None = None) -> list[MatchStatistics]:
    """Clean, select and summarise each match of the store at ``root`` (all annotated matches by default)."""
    store = LabelStore(root)
    records = store.read_matches().matches
    result = []
    for match_id in match_ids or sorted(records):
        record = records[match_id]
        labels = interpolate_keyframes(store.read_keyframes(match_id), match_id=match_id)
        predictions = read_mot_detections(store.detections_file(match_id))
        video = VideoInfo(record.n_frames, record.width, record.height, float(Fraction(record.fps)))
        cleaned = clean_match(match_id, labels, predictions, video)
        frames = select_frames(
            match_id,
            cleaned.cleaned_tracks,
            cleaned.frame_agreement,
            n_frames=record.n_frames,
            split="train",
            config=FRAME_SELECTION,
        )
        result.append(
            match_statistics(
                match_id,
                cleaned_tracks=cleaned.cleaned_tracks,
                selected_frames=frames.selected,
                frame_exclusions=frames.exclusions,
                frame_agreement=cleaned.frame_agreement,
                prediction_source="det.txt",
                n_frames=record.n_frames,
                kickoff=record.kickoff,
                annotated_at=record.annotated_at,
            )
        )
    return result
