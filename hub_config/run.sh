#!/usr/bin/env bash
# Run coursehub in the foreground: JupyterHub on 127.0.0.1:${COURSEHUB_PORT:-8000}, the
# grading service as a Hub-managed service, the sample course loaded.
#
# Where a Docker engine answers, learners get one container each and grading runs in
# containers (the images are built here first, registry-free); elsewhere coursehub runs
# in development mode (local processes, bubblewrap sandboxes). COURSEHUB_SPAWNER=local
# keeps development mode on a machine with an engine.
#
# Ctrl-C or SIGTERM stops the Hub, which stops the proxy, the grader and every
# learner's server.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$COURSEHUB_REPO"

if [[ ${COURSEHUB_SPAWNER:-auto} != local ]] && /usr/bin/docker info >/dev/null 2>&1; then
    if ! command -v debootstrap >/dev/null; then
        step "installing debootstrap (the images are built without a registry)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    step "a Docker engine answers: building the learner image (minutes the first time," \
        "quick when up to date)"
    PYTHON="$COURSEHUB_VENV/bin/python" bash "$COURSEHUB_REPO/images/build.sh" learner 2>&1 \
        | progress '^(==>|#[0-9]+ (\[|DONE|ERROR)|ERROR|coursehub/)'
    step_done
fi
exec "$COURSEHUB_VENV/bin/jupyterhub" -f "$COURSEHUB_REPO/jupyterhub_config.py" "$@"
