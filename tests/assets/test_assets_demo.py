"""The demo's stand-in for the daemon keeps every failed run, so `cvops demo` can exit with an error after its
summary instead of reporting success."""

from pathlib import Path

import dagster as dg

from cvops_assets.demo import DaemonStandIn


@dg.asset
def healthy() -> None:
    """Materialises."""


@dg.asset
def broken() -> None:
    raise RuntimeError("a step that fails")


def test_failed_runs_are_kept_and_named(tmp_path: Path) -> None:
    defs = dg.Definitions(assets=[healthy, broken])
    messages: list[str] = []
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        daemon = DaemonStandIn(defs, instance, messages.append)
        assert daemon.materialize([dg.AssetKey("healthy")]).success
        assert not daemon.materialize([dg.AssetKey("broken")]).success

    assert len(daemon.failed_runs) == 1 and daemon.failed_runs[0].startswith("broken: run ")
    assert [m.rsplit(" ", 1)[1] for m in messages] == ["ok", "FAILED"]
