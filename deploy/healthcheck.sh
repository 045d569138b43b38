#!/bin/sh
# HEALTHCHECK of the cvops image: asks the role the entrypoint started (deploy/entrypoint.sh) whether it serves.
# A container started with another command (a run or step worker) has no role file and counts as healthy.
set -eu
role="$(cat /tmp/cvops-role 2>/dev/null || echo none)"
case "$role" in
    dev|webserver)
        exec python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/server_info', timeout=5)" ;;
    code-server) exec dagster api grpc-health-check -p 4000 ;;
    daemon) exec dagster-daemon liveness-check ;;
    *) exit 0 ;;
esac
