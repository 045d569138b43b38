"""How the people and the ball move: piecewise-constant velocities with smooth turns, on a metric pitch.

Every object follows a sequence of *legs*. A leg has a target velocity and a duration; at its start the velocity
blends linearly from the previous one over a short turn (0.15-0.5 s for people, one frame for a kicked ball), so
motion is straight lines joined by short curves. That is the motion model the product's annotators assume when
they place keyframes only where the velocity changes and let linear interpolation fill the rest.

Who goes where:
- the ball alternates passes (8-20 m/s, instant change of direction), dribbles and short stops;
- outfield players hold a 4-4-2 shape that shifts with the ball, and the two players of each team whose position
  is nearest to the ball chase it, so players bunch and cross each other (a tracker can swap identities there);
- goalkeepers stay in front of their goal, the referee follows play, assistant referees run along a touchline;
- everybody stays on the pitch (clamped to a 1 m margin), except **ghost** players: 1-3 wide players per match
  step off across the near touchline, wait a few seconds a few metres beyond it (still in the picture by
  default) while moving along the line, and come back in elsewhere. The product's annotators leave a player
  off the pitch unlabelled (``Scene.off_pitch``), and the product interpolates across that stretch: a ghost box
  gliding along the line from the exit to the re-entry, beside the real, unlabelled player.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cvops.synth.camera import (
    BALL_SHARE_OF_FIGURE,
    FIGURE_ASPECT,
    PITCH_LENGTH,
    PITCH_WIDTH,
    Camera,
    CameraPath,
)
from cvops.synth.config import SynthConfig, match_rng
from cvops.synth.league import Fixture, Kit

# 4-4-2 anchors for the team attacking towards X = 105: goalkeeper, defenders, midfielders, forwards.
FORMATION = np.array(
    [[4, 34], [24, 10], [20, 27], [20, 41], [24, 58], [42, 10], [38, 27], [38, 41], [42, 58], [57, 26], [57, 42]],
    dtype=np.float64,
)
# Formation slots on the near flank: the players who may step off the pitch (ghost candidates).
NEAR_FLANK_SLOTS = (4, 8)
N_SKIN_TONES = 4
# Objects other than ghosts are clamped into the pitch plus this margin (metres) so they never leave the image.
X_RANGE = (-1.0, PITCH_LENGTH + 1.0)
Y_RANGE = (-1.5, PITCH_WIDTH + 1.2)
# A box counts as visible when at least this share of its area and 2 px in each direction are inside the image.
MIN_VISIBLE_SHARE = 0.2


@dataclass(frozen=True)
class Actor:
    """One labelled object: its track id in the labels, role, team (home/away/officials/ball) and looks."""

    track_id: int
    role: str
    team: str
    kit: Kit | None
    skin: int


@dataclass(frozen=True)
class Leg:
    velocity: np.ndarray
    frames: int
    turn_frames: int
    free: bool = False  # a ghost's run off the pitch: exempt from clamping


@dataclass(frozen=True)
class Scene:
    """World positions of every actor at every video frame (row i is video frame i + 1)."""

    actors: tuple[Actor, ...]
    positions: np.ndarray  # (n_frames, n_actors, 2) metres
    off_pitch: np.ndarray  # (n_frames, n_actors) bool: a player who has stepped off the pitch (not labelled)

    @property
    def n_frames(self) -> int:
        return int(self.positions.shape[0])


def _toward(position: np.ndarray, target: np.ndarray, speed: float, fps: float, turn: int, max_s: float) -> Leg:
    offset = target - position
    distance = float(np.linalg.norm(offset))
    if distance < 1e-6 or speed <= 0:
        return Leg(np.zeros(2), max(1, round(max_s * fps)), turn)
    seconds = min(distance / speed, max_s)
    return Leg(offset / distance * speed, max(1, round(seconds * fps + turn / 2)), turn)


def _run_legs(
    start: np.ndarray, n: int, fps: float, next_leg: Callable[[int, np.ndarray], Leg]
) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(n, 2)`` and the mask of free frames from a leg planner, blending velocities at turns."""
    velocities = np.zeros((n, 2))
    free = np.zeros(n, dtype=bool)
    position = start.astype(np.float64)
    velocity = np.zeros(2)
    frame = 0
    while frame < n:
        leg = next_leg(frame, position)
        m = min(leg.frames, n - frame)
        ramp = np.minimum(1.0, np.arange(1, m + 1) / max(leg.turn_frames, 1))[:, None]
        blended = velocity + (leg.velocity - velocity) * ramp
        velocities[frame : frame + m] = blended
        free[frame : frame + m] = leg.free
        position = position + blended.sum(axis=0) / fps
        velocity = blended[-1]
        frame += m
    steps = np.vstack([np.zeros((1, 2)), np.cumsum(velocities[:-1], axis=0) / fps])
    return start + steps, free


def _clamp(track: np.ndarray, free: np.ndarray) -> np.ndarray:
    clamped = track.copy()
    held = ~free
    clamped[held, 0] = np.clip(track[held, 0], *X_RANGE)
    clamped[held, 1] = np.clip(track[held, 1], *Y_RANGE)
    return clamped


def _ball_track(n: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    def next_leg(_frame: int, pos: np.ndarray) -> Leg:
        kind = rng.random()
        if kind < 0.45:  # pass or shot: fast, straight, instant change of direction
            target = np.clip(pos + rng.normal(0, [22, 15]), [3, 3], [PITCH_LENGTH - 3, PITCH_WIDTH - 3])
            return _toward(pos, target, rng.uniform(8, 20), fps, 1, 3.0)
        if kind < 0.85:  # dribble
            target = np.clip(pos + rng.normal(0, 6, 2), [2, 2], [PITCH_LENGTH - 2, PITCH_WIDTH - 2])
            return _toward(pos, target, rng.uniform(2.5, 5.5), fps, round(0.25 * fps), 2.0)
        return Leg(np.zeros(2), max(1, round(rng.uniform(0.3, 1.2) * fps)), 2)

    start = np.array([PITCH_LENGTH / 2, PITCH_WIDTH / 2])
    track, free = _run_legs(start, n, fps, next_leg)
    return _clamp(track, free)


def _person_speed(rng: np.random.Generator) -> float:
    """Walk, jog or sprint (m/s)."""
    gait = rng.random()
    if gait < 0.35:
        return float(rng.uniform(0.8, 2.0))
    if gait < 0.8:
        return float(rng.uniform(2.5, 4.5))
    return float(rng.uniform(5.0, 7.5))


def _shifted_anchors(anchors: np.ndarray, ball: np.ndarray) -> np.ndarray:
    """The team shape moved towards the ball (more along the pitch than across it)."""
    shift = np.array([(ball[0] - PITCH_LENGTH / 2) * 0.55, (ball[1] - PITCH_WIDTH / 2) * 0.25])
    return anchors + shift


@dataclass(frozen=True)
class GhostPlan:
    """When a wide player steps off the pitch, how far beyond the line he waits, for how long, where he returns."""

    leave_frame: int
    out_speed: float
    off_frames: int
    drift_m: float
    back_speed: float
    off_pitch_m: float

    @property
    def wait_y(self) -> float:
        return PITCH_WIDTH + self.off_pitch_m


def _with_ghost(
    plan: GhostPlan, fps: float, normal: Callable[[int, np.ndarray], Leg]
) -> Callable[[int, np.ndarray], Leg]:
    """Wrap a planner: from ``plan.leave_frame`` on, step off the pitch, drift along the line, run back in."""
    forced: list[Callable[[np.ndarray], Leg]] = [
        lambda pos: _toward(pos, np.array([pos[0], plan.wait_y]), plan.out_speed, fps, round(0.3 * fps), 30.0),
        lambda pos: _drift_along_line(pos, plan, fps),
        lambda pos: _toward(pos, np.array([pos[0], PITCH_WIDTH - 6.0]), plan.back_speed, fps, round(0.3 * fps), 30.0),
    ]
    state = {"next": 0}

    def next_leg(frame: int, pos: np.ndarray) -> Leg:
        step = state["next"]
        if frame >= plan.leave_frame and step < len(forced):
            state["next"] = step + 1
            leg = forced[step](pos)
            return Leg(leg.velocity, leg.frames, leg.turn_frames, free=True)
        if step < len(forced):
            # Before leaving, do not start a leg that would run past the departure.
            leg = normal(frame, pos)
            return Leg(leg.velocity, max(1, min(leg.frames, plan.leave_frame - frame)), leg.turn_frames)
        return normal(frame, pos)

    return next_leg


def _drift_along_line(position: np.ndarray, plan: GhostPlan, fps: float) -> Leg:
    """Off the pitch, move along the touchline by ``plan.drift_m``, but stay level with the pitch so the
    player comes back in onto the pitch, not beside it."""
    target_x = float(np.clip(position[0] + plan.drift_m, 3.0, PITCH_LENGTH - 3.0))
    return Leg(np.array([(target_x - position[0]) * fps / plan.off_frames, 0.0]), plan.off_frames, round(0.3 * fps))


def _plan_ghosts(config: SynthConfig, n: int, rng: np.random.Generator) -> dict[int, GhostPlan]:
    """Ghost plans keyed by (team 0/1, flank slot) index ``2 * slot_rank + team``, only those that fit the clip."""
    fps = float(config.frame_rate)
    lo, hi = config.ghosts_per_match
    count = int(rng.integers(lo, hi + 1))
    candidates = rng.permutation(2 * len(NEAR_FLANK_SLOTS))[:count]
    plans: dict[int, GhostPlan] = {}
    for candidate in candidates:
        out_speed = float(rng.uniform(5.0, 7.0))
        back_speed = float(rng.uniform(5.0, 7.0))
        off_s = float(rng.uniform(*config.ghost_off_seconds))
        drift = float(rng.choice([-1, 1]) * rng.uniform(6.0, 18.0))
        off_pitch_m = float(rng.uniform(*config.ghost_off_pitch_m))
        # Wide players stay at Y >= 54, so the run out is at most this long; the run back is shorter.
        run_s = (PITCH_WIDTH + off_pitch_m - 54.0) / out_speed + (off_pitch_m + 6.0) / back_speed + 1.0
        latest_leave_s = n / fps - run_s - off_s - 1.0
        if latest_leave_s < 0.5:
            continue
        leave_s = float(rng.uniform(0.5, latest_leave_s))
        plans[int(candidate)] = GhostPlan(
            round(leave_s * fps), out_speed, max(1, round(off_s * fps)), drift, back_speed, off_pitch_m
        )
    return plans


def build_scene(config: SynthConfig, fixture: Fixture) -> Scene:
    """Simulate one match: actors and their ground positions at every video frame."""
    rng = match_rng(config.seed, fixture.index, "scene")
    n = config.n_frames
    fps = float(config.frame_rate)
    ball = _ball_track(n, fps, rng)
    ghosts = _plan_ghosts(config, n, rng)
    kits = fixture.kits

    actors: list[Actor] = []
    tracks: list[np.ndarray] = []
    off_pitch: list[np.ndarray] = []

    def add(role: str, team: str, kit: Kit | None, track: np.ndarray, off: np.ndarray | None = None) -> None:
        actors.append(Actor(len(actors) + 1, role, team, kit, int(rng.integers(N_SKIN_TONES))))
        tracks.append(track)
        off_pitch.append(np.zeros(n, dtype=bool) if off is None else off)

    for team_index, (team, kit, keeper_kit) in enumerate(
        (("home", kits.home, kits.home_goalkeeper), ("away", kits.away, kits.away_goalkeeper))
    ):
        anchors = FORMATION.copy()
        if team_index == 1:
            anchors[:, 0] = PITCH_LENGTH - anchors[:, 0]
        for slot, anchor in enumerate(anchors):
            ghost_key = 2 * NEAR_FLANK_SLOTS.index(slot) + team_index if slot in NEAR_FLANK_SLOTS else -1
            planner = _player_planner(slot, anchors, ball, fps, rng, wide=ghost_key in ghosts)
            if ghost_key in ghosts:
                planner = _with_ghost(ghosts[ghost_key], fps, planner)
            start = anchor + rng.normal(0, 1.5, 2)
            track, free = _run_legs(start, n, fps, planner)
            track = _clamp(track, free)
            role = "goalkeeper" if slot == 0 else "player"
            add(role, team, keeper_kit if slot == 0 else kit, track, free & (track[:, 1] > PITCH_WIDTH))

    n_referees = int(rng.integers(1, 4))
    for official in range(n_referees):
        planner = _referee_planner(official, ball, fps, rng)
        start = (
            np.array([PITCH_LENGTH / 2 - 8, PITCH_WIDTH / 2 + 6])
            if official == 0
            else np.array([PITCH_LENGTH / 2, -1.2 if official == 1 else PITCH_WIDTH + 1.0])
        )
        track, free = _run_legs(start, n, fps, planner)
        add("referee", "officials", kits.referee, _clamp(track, free))

    add("ball", "ball", None, ball)
    return Scene(tuple(actors), np.stack(tracks, axis=1), np.stack(off_pitch, axis=1))


def _player_planner(
    slot: int, anchors: np.ndarray, ball: np.ndarray, fps: float, rng: np.random.Generator, *, wide: bool
) -> Callable[[int, np.ndarray], Leg]:
    n = len(ball)
    team_x_sign = 1.0 if anchors[0, 0] < PITCH_LENGTH / 2 else -1.0
    goal = np.array([0.0 if team_x_sign > 0 else PITCH_LENGTH, PITCH_WIDTH / 2])

    def next_leg(frame: int, pos: np.ndarray) -> Leg:
        ball_now = ball[frame]
        turn = max(1, round(rng.uniform(0.15, 0.5) * fps))
        if slot == 0:  # goalkeeper: a few metres off the goal line, facing the ball
            target = goal + (ball_now - goal) * 0.12 + rng.normal(0, 0.8, 2)
            target[0] = np.clip(target[0], *sorted((goal[0], goal[0] + 12 * team_x_sign)))
            target[1] = np.clip(target[1], 24, 44)
            return _toward(pos, target, float(rng.uniform(0.5, 3.0)), fps, turn, 2.5)
        if rng.random() < 0.15:
            return Leg(np.zeros(2), max(1, round(rng.uniform(0.4, 1.5) * fps)), turn)
        shifted = _shifted_anchors(anchors[1:], ball_now)
        nearest = np.argsort(np.linalg.norm(shifted - ball_now, axis=1))[:2] + 1
        if slot in nearest and rng.random() < 0.7:
            target = ball[min(frame + round(fps), n - 1)].copy()
            speed = float(rng.uniform(4.0, 7.0))
        else:
            target = shifted[slot - 1] + rng.normal(0, 4.0, 2)
            speed = _person_speed(rng)
        target = np.clip(target, [1, 54.0 if wide else 1], [PITCH_LENGTH - 1, PITCH_WIDTH - 1])
        return _toward(pos, target, speed, fps, turn, 3.0)

    return next_leg


def _referee_planner(
    official: int, ball: np.ndarray, fps: float, rng: np.random.Generator
) -> Callable[[int, np.ndarray], Leg]:
    """The referee (0) follows play at a distance; assistants (1: far, 2: near touchline) shadow the ball's X."""

    def next_leg(frame: int, pos: np.ndarray) -> Leg:
        ball_now = ball[frame]
        turn = max(1, round(rng.uniform(0.2, 0.5) * fps))
        if official == 0:
            offset = np.array([rng.uniform(-12, 12), rng.choice([-1, 1]) * rng.uniform(8, 15)])
            target = np.clip(ball_now + offset, [2, 2], [PITCH_LENGTH - 2, PITCH_WIDTH - 2])
            return _toward(pos, target, _person_speed(rng), fps, turn, 3.0)
        half = (PITCH_LENGTH / 2, PITCH_LENGTH - 1) if official == 1 else (1, PITCH_LENGTH / 2)
        target = np.array([np.clip(ball_now[0], *half), -1.2 if official == 1 else PITCH_WIDTH + 1.0])
        return _toward(pos, target, float(rng.uniform(1.0, 5.0)), fps, turn, 2.0)

    return next_leg


@dataclass(frozen=True)
class ImageBoxes:
    """Per video frame and actor: the drawn box (unclipped) and the truth box (clipped to the image)."""

    drawn: np.ndarray  # (n_frames, n_actors, 4) x, y, w, h in pixels, may extend beyond the image
    clipped: np.ndarray  # (n_frames, n_actors, 4) the part inside the image
    visible: np.ndarray  # (n_frames, n_actors) bool
    foot: np.ndarray  # (n_frames, n_actors, 2) image point of the ground contact
    wide_foot: np.ndarray
    """(n_frames, n_actors, 2) the ground contact in the wide view's pixels, where the haze and the stand's shadow
    lie (``foot`` itself for a static camera)."""


def image_boxes(scene: Scene, camera: Camera, path: CameraPath | None = None) -> ImageBoxes:
    """Where each actor appears: a figure standing on its ground point, sized by the local zoom.

    ``path``: a broadcast camera's pan and zoom (``None``: the static wide view)."""
    wide_foot = camera.project(scene.positions)
    figure_h = camera.figure_height_px(scene.positions)
    foot = wide_foot
    if path is not None:
        foot = path.to_frame(wide_foot)
        figure_h = figure_h * path.zoom[:, None]
    is_ball = np.array([actor.role == "ball" for actor in scene.actors])
    height = np.where(is_ball, np.maximum(3.0, BALL_SHARE_OF_FIGURE * figure_h), figure_h)
    width = np.where(is_ball, height, FIGURE_ASPECT * figure_h)
    drawn = np.stack([foot[..., 0] - width / 2, foot[..., 1] - height, width, height], axis=-1)
    x0 = np.clip(drawn[..., 0], 0, camera.width)
    y0 = np.clip(drawn[..., 1], 0, camera.height)
    x1 = np.clip(drawn[..., 0] + width, 0, camera.width)
    y1 = np.clip(drawn[..., 1] + height, 0, camera.height)
    clipped = np.stack([x0, y0, x1 - x0, y1 - y0], axis=-1)
    share = (clipped[..., 2] * clipped[..., 3]) / (width * height)
    visible = (share >= MIN_VISIBLE_SHARE) & (clipped[..., 2] >= 2) & (clipped[..., 3] >= 2)
    return ImageBoxes(drawn, clipped, visible, foot, wide_foot)
