#!/bin/sh
# The roles of the cvops image (docs/deploy.md). The first argument names the role; anything else is run as given
# (Dagster's run launchers and executors start `dagster api execute_run|execute_step ...` in this image).
#   dev          dagster dev: webserver + daemon + code server in one container (the default; a single machine)
#   code-server  the code location over gRPC on :4000 (`dagster code-server start`); runs execute here
#   webserver    the UI on :3000, loading the code location named in $CVOPS_WORKSPACE
#   daemon       sensors, schedules, the run queue, backfills and run monitoring
# `cvops init` first writes DAGSTER_HOME/dagster.yaml from the environment (Postgres when CVOPS_POSTGRES_URL or
# DAGSTER_PG_* is set); it leaves alone a dagster.yaml it did not write, such as the Helm chart's.
set -eu

role="${1:-dev}"
workspace="${CVOPS_WORKSPACE:-/app/deploy/compose/workspace.yaml}"
case "$role" in
    dev|code-server|webserver|daemon)
        shift || true
        printf '%s\n' "$role" > /tmp/cvops-role  # read by the HEALTHCHECK
        cvops init > /dev/null
        ;;
esac
case "$role" in
    dev) exec dagster dev -w /app/workspace.yaml -h 0.0.0.0 -p 3000 "$@" ;;
    code-server) exec dagster code-server start -h 0.0.0.0 -p 4000 -m cvops_assets.definitions "$@" ;;
    webserver) exec dagster-webserver -h 0.0.0.0 -p 3000 -w "$workspace" "$@" ;;
    daemon) exec dagster-daemon run -w "$workspace" "$@" ;;
    *) exec "$@" ;;
esac
