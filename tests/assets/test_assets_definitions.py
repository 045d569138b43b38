"""The one Definitions: what it holds, and what must run by default."""

import dagster as dg

from cvops_assets.definitions import defs


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
