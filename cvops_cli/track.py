"""``cvops track``: the platform's tracker on a MOT Challenge detection file (any detector's output)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("track")
@click.argument("detections", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="MOT Challenge tracker file to write (frame,id,x,y,w,h,conf,-1,-1,-1).",
)
@click.option(
    "--fps",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="The video's frame rate: max_lost is read as frames at 30 fps and scaled to it (ByteTrack's convention). "
    "Default: no scaling.",
)
@click.option(
    "--operating-point",
    type=click.FloatRange(0, 1),
    default=None,
    help="The detector's best-F1 confidence (a model card's track_score_threshold): tracks start and are "
    "matched first from there instead of ByteTrack's 0.5 / 0.6.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="YAML or JSON mapping of tracker settings (cvops.tracking.TrackerConfig fields); they override the "
    "operating point's.",
)
@click.option(
    "--video",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The video the detections come from: the camera's pan and zoom are measured from its frames and "
    "compensated (frame numbers are its decoding order, from 1).",
)
def track(
    detections: Path,
    out: Path,
    fps: float | None,
    operating_point: float | None,
    config_file: Path | None,
    video: Path | None,
) -> None:
    """Track DETECTIONS (a MOT Challenge detection file) and write the tracks to OUT.

    DETECTIONS has rows frame,-1,x,y,w,h,conf,-1,-1,-1 (7 to 10 columns). Optional: an integer class in
    column 8 (tracks never cross classes; -1 on every row means none) and an appearance embedding in columns
    11 onwards (used by the first association stage). Every frame from the first detection's to the last one's
    is a step of the tracker. A bad line stops the command with the file, line and field.
    """
    from cvops.tracking import TrackerConfig, read_mot_detections, track_sequence, write_mot_tracker_file

    overrides = TrackerConfig.read_settings(config_file) if config_file is not None else {}
    config = TrackerConfig.at_operating_point(operating_point, **overrides)
    if fps is not None:
        config = config.at_frame_rate(fps)
    table = read_mot_detections(detections, for_tracker=True)
    motion = None
    if video is not None and len(table):
        from cvops.tracking.camera_motion import camera_motion_of_video

        first, last = int(table["frame"].min()), int(table["frame"].max())
        motion = camera_motion_of_video(video, frames=range(first, last + 1))
    tracks = track_sequence(table, config, camera_motion=motion)
    write_mot_tracker_file(out, tracks)
    n_tracks = tracks["track_id"].nunique()
    compensated = ", camera motion compensated" if motion is not None else ""
    click.echo(f"{len(tracks)} boxes in {n_tracks} tracks over {len(table)} detections{compensated}: {out}")
