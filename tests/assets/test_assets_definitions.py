"""The one Definitions: what it holds, and what must run by default."""

import dataclasses

import dagster as dg
import pytest

from cvops.benchmark import PromotionPolicy
from cvops.benchmark.scoring import ClipConfig
from cvops.catalog import TABLES
from cvops.cleaning import CleaningConfig
from cvops.drift import DriftConfig
from cvops.expectations import LabelCheckConfig
from cvops.model import TrainConfig
from cvops.model.predict import PredictionConfig
from cvops.model.release import ReleaseConfig
from cvops.review import ReviewQueueConfig
from cvops.selection import FrameSelectionConfig, MatchSelectionConfig
from cvops_assets.definitions import defs
from cvops_assets.run_config import run_config


def test_definitions_load_with_the_contract_names() -> None:
    dg.Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert keys >= {
        "raw_labels",
        "match_predictions",
        "cleaned_tracks",
        "selected_frames",
        "match_selection",
        "frame_samples",
        "dataset_version",
        "trained_model",
        "benchmark_results",
        "benchmark_leaderboard",
    }
    assert defs.executor.name == "gpu_executor"
    for name in ("annotated_matches_sensor", "retrain_sensor", "benchmark_sensor", "cvops_automation_sensor"):
        assert defs.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING, name
    assert defs.resolve_schedule_def("monthly_retrain").default_status == dg.DefaultScheduleStatus.STOPPED


def test_asset_selection_strings_parse() -> None:
    # Dagster's selection parser needs antlr4 4.13; DVC's dependencies pin 4.9, which is why DVC has its own
    # environment. This fails if the two ever share one again.
    selection = dg.AssetSelection.from_string('key:"raw_labels" or key:"cleaned_tracks"')
    resolved = selection.resolve(defs.resolve_asset_graph())
    assert {k.to_user_string() for k in resolved} == {"raw_labels", "cleaned_tracks"}


def test_every_catalog_table_is_an_asset_with_its_column_schema() -> None:
    graph = defs.resolve_asset_graph()
    for name, spec in TABLES.items():
        key = dg.AssetKey(name)
        assert graph.has(key), f"catalog table {name} is not an asset"
        schema = graph.get(key).metadata["dagster/column_schema"]
        assert [c.name for c in schema.columns] == spec.columns, name
        assert graph.get(key).description == spec.description


def test_checks_only_check() -> None:
    # Asset checks read what the assets wrote; the tables they report on are assets of their own.
    checks = {key.name: key.asset_key.to_user_string() for key in defs.resolve_asset_graph().asset_check_keys}
    assert checks == {
        "label_schema": "raw_labels",
        "label_values": "raw_labels",
        "label_distribution": "raw_labels",
        "match_drift": "match_drift",
    }


def test_each_step_declares_what_it_reads() -> None:
    graph = defs.resolve_asset_graph()

    def parents(name: str) -> set[str]:
        return {k.to_user_string() for k in graph.get(dg.AssetKey(name)).parent_keys}

    assert parents("match_selection") == {"matches", "label_check_results"}
    assert parents("selected_frames") == {"cleaned_tracks", "frame_agreement", "matches", "match_selection"}
    assert parents("frame_samples") == {"selected_frames", "matches", "cleaned_tracks", "label_store"}
    assert {"label_store", "matches"} <= parents("match_predictions")
    assert parents("models") == {"trained_model", "model_promotion"}
    assert parents("review_queue") == {
        "match_predictions",
        "cleaned_tracks",
        "frame_agreement",
        "matches",
        "label_store",
    }


RUN_CONFIGS = {
    "read_match_labels": (LabelCheckConfig, set()),
    "match_predictions": (PredictionConfig, set()),
    "clean_labels": (CleaningConfig, set()),
    "review_queue": (ReviewQueueConfig, set()),
    "match_selection": (MatchSelectionConfig, set()),
    "select_frames": (FrameSelectionConfig, set()),
    "measure_drift": (DriftConfig, {"reference_matches", "max_samples"}),
    "trained_model": (TrainConfig, {"dataset_version", "release"}),
    "benchmark_results": (ClipConfig, set()),
    "rank_and_promote": (PromotionPolicy, set()),
}
PLATFORM_DEFAULTS = {"trained_model": {"max_minutes"}}
NESTED_EXTRAS = {"trained_model": {"release": ReleaseConfig}}
"""Extras that are domain dataclasses of their own (the release gate beside the training config)."""
"""Defaults the platform sets on purpose where the library leaves a choice open."""


@pytest.mark.parametrize("step", sorted(RUN_CONFIGS))
def test_a_steps_config_is_its_domain_dataclass(step: str) -> None:
    """What the launchpad shows for a step is its domain dataclass, field for field (plus Dagster-only extras),
    with the same defaults."""
    domain, extras = RUN_CONFIGS[step]
    (assets_def,) = [a for a in defs.assets if getattr(a, "node_def", None) and a.node_def.name == step]
    fields = assets_def.op.config_schema.config_type.fields
    assert set(fields) == {f.name for f in dataclasses.fields(domain)} | extras
    _assert_defaults(fields, domain(), skip=PLATFORM_DEFAULTS.get(step, set()))
    for extra, nested_domain in NESTED_EXTRAS.get(step, {}).items():
        nested = fields[extra].config_type.fields
        assert set(nested) == {f.name for f in dataclasses.fields(nested_domain)}
        _assert_defaults(nested, nested_domain())


def _assert_defaults(fields: dict, instance: object, skip: set[str] = frozenset()) -> None:
    for item in dataclasses.fields(instance):
        value, field = getattr(instance, item.name), fields[item.name]
        if dataclasses.is_dataclass(value):
            nested = getattr(field.config_type, "inner_type", field.config_type)  # an optional one is Noneable
            _assert_defaults(nested.fields, value)
        elif item.name not in skip:
            shown = field.default_value if field.default_provided else None
            assert shown == (list(value) if isinstance(value, tuple) else value), item.name


def test_derived_run_config_round_trips() -> None:
    config = run_config(CleaningConfig)(sync={"max_offset": 3}, agreement={"roles": ["player"]})
    cleaning = config.to_domain()
    assert cleaning.sync.max_offset == 3 and cleaning.agreement.roles == ("player",)
    assert cleaning.ghosts == CleaningConfig().ghosts
    assert (
        "candidates are every integer shift"
        in type(config).model_fields["sync"].annotation.model_fields["max_offset"].description
    )
