#!/usr/bin/env bash
# Run coursehub in the foreground: JupyterHub on 127.0.0.1:${COURSEHUB_PORT:-8000}, the
# grading service as a Hub-managed service, the sample course loaded.
# Ctrl-C or SIGTERM stops the Hub, which stops the proxy, the grader and every
# learner's server.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$COURSEHUB_REPO"
exec "$COURSEHUB_VENV/bin/jupyterhub" -f "$COURSEHUB_REPO/jupyterhub_config.py" "$@"
