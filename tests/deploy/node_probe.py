"""One node of tests/deploy/test_deploy_shared_state.py: a process with its own CVOPS_HOME (its scratch folder)
that runs one step of the platform on the shared Dagster instance (Postgres) and the shared state (S3)."""

from __future__ import annotations

import json
import sys

import dagster as dg

from cvops.catalog import Catalog
from cvops.home import init_home
from cvops.settings import CvopsPaths
from cvops_assets.definitions import defs
from cvops_assets.demo import DEMO_OP_CONFIG, QUIET_RUN_CONFIG, DaemonStandIn

TABLES = ("matches", "raw_labels", "cleaned_tracks", "match_selection", "selected_frames", "dataset_samples")


def main(step: str, match_id: str | None) -> None:
    paths = init_home()
    if step == "query":
        catalog = Catalog.at(paths)
        rows = {}
        for table in TABLES:
            frame = catalog.query(f"SELECT * EXCLUDE (path) FROM {table}" if table == "dataset_samples" else
                                  f"SELECT * FROM {table}")  # fmt: skip
            rows[table] = frame.sort_values(list(frame.columns)).astype(str).to_dict("records")
        print(json.dumps(rows))
        return
    instance = dg.DagsterInstance.get()
    try:
        if step == "chain":  # what the sensor's run does for a new match
            instance.add_dynamic_partitions("matches", [match_id])
            job = defs.resolve_job_def("match_pipeline")
            outcome = job.execute_in_process(instance=instance, partition_key=match_id, run_config=QUIET_RUN_CONFIG)
        else:
            daemon = DaemonStandIn(defs, instance, print, op_config=DEMO_OP_CONFIG)
            keys = {
                "selection": ["match_selection"],
                "samples": ["selected_frames", "frame_samples"],
                "export": ["dataset_export_preview", "dataset_version"],
            }[step]
            outcome = daemon.materialize([dg.AssetKey(k) for k in keys], match_id)
        if not outcome.success:
            raise SystemExit(f"{step} {match_id or ''} failed on {CvopsPaths.from_env().home}")
    finally:
        instance.dispose()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
