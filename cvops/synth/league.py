"""A small fictional league: stadiums, teams, kits, weather and the fixtures that become ``matches.csv`` rows.

Dataset selection groups matches by (pitch, home team, away team), so the generator must produce groups that
repeat: each store seed picks five fixtures (group keys) and every match draws one of them with falling weights,
so any six matches share at least one group and a few groups dominate, as real match archives do. Each stadium
has its own home team, camera position, grass and advertising boards, so a group also looks alike on video.
Kick-offs follow the match index (a season of weekends); ``annotated_at`` is kick-off plus a random review delay,
so the annotation order differs from the id order, as it does when experts review matches in their own order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from cvops.errors import InputError
from cvops.synth.camera import CameraView
from cvops.synth.config import SynthConfig, match_rng

RGB = tuple[int, int, int]
WEATHERS = ("clear", "overcast", "rain", "fog")
WEATHER_WEIGHTS = (0.4, 0.3, 0.2, 0.1)
FIXTURE_WEIGHTS = (0.3, 0.25, 0.2, 0.15, 0.1)
SEASON_START = dt.datetime(2024, 8, 3, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Kit:
    shirt: RGB
    shorts: RGB
    socks: RGB


@dataclass(frozen=True)
class Team:
    name: str
    home_kit: Kit
    away_kit: Kit


@dataclass(frozen=True)
class Stadium:
    pitch: str
    home_team: str
    view: CameraView
    grass: RGB
    stripe_contrast: float
    n_stripes: int
    board_colours: tuple[RGB, ...]


TEAMS = {
    team.name: team
    for team in (
        Team(
            "northbridge-fc",
            Kit((200, 30, 40), (245, 245, 245), (200, 30, 40)),
            Kit((250, 250, 250), (30, 30, 40), (250, 250, 250)),
        ),
        Team(
            "riverside-united",
            Kit((30, 70, 190), (245, 245, 245), (30, 70, 190)),
            Kit((250, 200, 40), (30, 70, 190), (250, 200, 40)),
        ),
        Team(
            "old-mill-athletic",
            Kit((250, 250, 250), (20, 20, 30), (250, 250, 250)),
            Kit((120, 30, 110), (120, 30, 110), (20, 20, 30)),
        ),
        Team(
            "harbour-rovers",
            Kit((240, 120, 20), (20, 20, 30), (240, 120, 20)),
            Kit((60, 160, 220), (250, 250, 250), (60, 160, 220)),
        ),
        Team(
            "eastfield-city",
            Kit((110, 190, 235), (250, 250, 250), (20, 30, 60)),
            Kit((20, 30, 60), (20, 30, 60), (110, 190, 235)),
        ),
        Team(
            "castle-wanderers",
            Kit((20, 120, 60), (250, 250, 250), (20, 120, 60)),
            Kit((235, 235, 235), (20, 120, 60), (235, 235, 235)),
        ),
    )
}

STADIUMS = (
    Stadium(
        "northbridge-park",
        "northbridge-fc",
        CameraView(0.25, 0.31, 0.92, 0.48),
        (58, 132, 52),
        0.07,
        18,
        ((200, 30, 40), (240, 240, 240), (20, 40, 120)),
    ),
    Stadium(
        "riverside-stadium",
        "riverside-united",
        CameraView(0.22, 0.33, 0.93, 0.49),
        (48, 122, 60),
        0.09,
        12,
        ((30, 70, 190), (250, 200, 40), (20, 20, 20)),
    ),
    Stadium(
        "old-mill-ground",
        "old-mill-athletic",
        CameraView(0.28, 0.29, 0.91, 0.47),
        (70, 128, 48),
        0.05,
        24,
        ((120, 30, 110), (250, 250, 250), (230, 120, 20)),
    ),
)

GOALKEEPER_KITS = (
    Kit((230, 230, 40), (230, 230, 40), (230, 230, 40)),
    Kit((150, 230, 60), (20, 20, 30), (150, 230, 60)),
    Kit((30, 30, 30), (30, 30, 30), (30, 30, 30)),
    Kit((240, 90, 170), (240, 90, 170), (20, 20, 30)),
    Kit((40, 220, 210), (20, 60, 80), (40, 220, 210)),
)
REFEREE_KITS = (
    Kit((25, 25, 25), (25, 25, 25), (25, 25, 25)),
    Kit((245, 235, 60), (25, 25, 25), (25, 25, 25)),
    Kit((230, 60, 130), (25, 25, 25), (25, 25, 25)),
)


def _colour_distance(a: RGB, b: RGB) -> float:
    return float(np.linalg.norm(np.subtract(a, b, dtype=np.float64)))


def _pick_distinct(candidates: tuple[Kit, ...], taken: list[Kit], rng: np.random.Generator) -> Kit:
    """A kit whose shirt differs from every shirt already on the pitch (the first such in a shuffled order)."""
    order = [candidates[i] for i in rng.permutation(len(candidates))]
    contrast = [min(_colour_distance(kit.shirt, other.shirt) for other in taken) for kit in order]
    for kit, distance in zip(order, contrast, strict=True):
        if distance > 120:
            return kit
    return order[int(np.argmax(contrast))]


@dataclass(frozen=True)
class MatchKits:
    home: Kit
    away: Kit
    home_goalkeeper: Kit
    away_goalkeeper: Kit
    referee: Kit


@dataclass(frozen=True)
class Fixture:
    """Everything about a match that ``matches.csv`` and the look of the video depend on."""

    index: int
    stadium: Stadium
    away_team: str
    weather: str
    kickoff: dt.datetime
    annotated_at: dt.datetime
    status: str
    kits: MatchKits


def stadiums_of(pitches: tuple[str, ...]) -> tuple[Stadium, ...]:
    """The stadiums of ``pitches`` (every stadium when empty)."""
    if not pitches:
        return STADIUMS
    known = {stadium.pitch: stadium for stadium in STADIUMS}
    unknown = sorted(set(pitches) - set(known))
    if unknown:
        raise InputError(f"unknown pitches {unknown}: the league has {sorted(known)}", field="pitches")
    return tuple(known[pitch] for pitch in dict.fromkeys(pitches))


def _season_fixtures(seed: int, pitches: tuple[str, ...] = ()) -> list[tuple[Stadium, str]]:
    """The five (stadium, away team) groups of a store, most frequent first (on ``pitches`` only, if given:
    a stadium's home team has five opponents, enough for five groups on one pitch).

    Given pitches each hold one of the most frequent groups (``_fixture_weights`` puts a store's first matches
    on them in turn); the other groups are drawn."""
    stadiums = stadiums_of(pitches)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x6C656167]))
    groups: list[tuple[Stadium, str]] = []
    while len(groups) < len(FIXTURE_WEIGHTS):
        if pitches and len(groups) < len(stadiums):
            stadium = stadiums[len(groups)]
        else:
            stadium = stadiums[int(rng.integers(len(stadiums)))]
        away = [name for name in TEAMS if name != stadium.home_team][int(rng.integers(len(TEAMS) - 1))]
        if (stadium, away) not in groups:
            groups.append((stadium, away))
    return groups


def _fixture_weights(config: SynthConfig, index: int, fixtures: list[tuple[Stadium, str]]) -> np.ndarray:
    """How often each fixture group plays. Given pitches host the store's first matches in turn (the first on
    the first pitch, ...), so a store asked to play on two pitches does whatever the seed; later matches follow
    ``FIXTURE_WEIGHTS``."""
    weights = np.asarray(FIXTURE_WEIGHTS)
    stadiums = stadiums_of(config.pitches)
    turn = index - config.first_match_index
    if not config.pitches or turn >= len(stadiums):
        return weights
    weights = weights * [stadium == stadiums[turn] for stadium, _ in fixtures]
    return weights / weights.sum()


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_fixture(config: SynthConfig, index: int) -> Fixture:
    rng = match_rng(config.seed, index, "fixture")
    fixtures = _season_fixtures(config.seed, config.pitches)
    stadium, away_team = fixtures[int(rng.choice(len(fixtures), p=_fixture_weights(config, index, fixtures)))]
    weather = str(rng.choice(WEATHERS, p=WEATHER_WEIGHTS))
    weekend = SEASON_START + dt.timedelta(days=7 * (index // 2))
    kickoff = weekend + dt.timedelta(days=int(rng.integers(0, 2)), hours=int(rng.choice([13, 15, 17, 19])))
    annotated_at = kickoff + dt.timedelta(days=float(rng.uniform(0.5, 30.0)))
    annotated_at = annotated_at.replace(microsecond=0)
    status = "in_progress" if rng.random() < config.in_progress_share else "annotated"
    home = TEAMS[stadium.home_team].home_kit
    away_team_kits = TEAMS[away_team]
    away = away_team_kits.home_kit
    if _colour_distance(home.shirt, away.shirt) < 180:  # a clash: wear whichever kit contrasts more
        away = max(
            (away_team_kits.home_kit, away_team_kits.away_kit), key=lambda kit: _colour_distance(home.shirt, kit.shirt)
        )
    home_gk = _pick_distinct(GOALKEEPER_KITS, [home, away], rng)
    away_gk = _pick_distinct(GOALKEEPER_KITS, [home, away, home_gk], rng)
    referee = _pick_distinct(REFEREE_KITS, [home, away, home_gk, away_gk], rng)
    return Fixture(
        index=index,
        stadium=stadium,
        away_team=away_team,
        weather=weather,
        kickoff=kickoff,
        annotated_at=annotated_at,
        status=status,
        kits=MatchKits(home, away, home_gk, away_gk, referee),
    )


def fixture_row(fixture: Fixture) -> dict[str, str]:
    """The categorical and time columns of a ``matches.csv`` row."""
    return {
        "pitch": fixture.stadium.pitch,
        "home_team": fixture.stadium.home_team,
        "away_team": fixture.away_team,
        "weather": fixture.weather,
        "kickoff": _iso(fixture.kickoff),
        "annotated_at": _iso(fixture.annotated_at),
        "status": fixture.status,
    }
