"""Online multi-object tracking (ByteTrack / FairMOT style) and MOT Challenge file I/O.

Typical use::

    from cvops.tracking import TrackerConfig, track_sequence, write_mot_tracker_file

    tracks = track_sequence(detections, TrackerConfig(max_lost=50))
    write_mot_tracker_file("out/MATCH-01.txt", tracks)
"""

from cvops.tracking.boxes import iou_xywh
from cvops.tracking.config import TrackerConfig
from cvops.tracking.mot import (
    DETECTION_COLUMNS,
    GT_COLUMNS,
    TRACKER_COLUMNS,
    mot_gt_path,
    read_mot_detections,
    read_mot_gt,
    read_mot_tracker,
    write_mot_detections,
    write_mot_gt,
    write_mot_tracker_file,
)
from cvops.tracking.sequence import TRACK_COLUMNS, track_sequence
from cvops.tracking.tracker import FrameTracks, OnlineTracker, Track, TrackState

__all__ = [
    "DETECTION_COLUMNS",
    "GT_COLUMNS",
    "TRACKER_COLUMNS",
    "TRACK_COLUMNS",
    "FrameTracks",
    "OnlineTracker",
    "Track",
    "TrackState",
    "TrackerConfig",
    "iou_xywh",
    "mot_gt_path",
    "read_mot_detections",
    "read_mot_gt",
    "read_mot_tracker",
    "track_sequence",
    "write_mot_detections",
    "write_mot_gt",
    "write_mot_tracker_file",
]
