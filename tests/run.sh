#!/usr/bin/env bash
# Run coursehub's test suite: installs what it needs first (see hub_config/bootstrap.sh).
source "$(dirname "${BASH_SOURCE[0]}")/../hub_config/bootstrap.sh"
cd "$COURSEHUB_REPO"
"$COURSEHUB_VENV/bin/ruff" check grader hub_config extensions tests
exec "$COURSEHUB_VENV/bin/python" -m pytest -p no:cacheprovider "$@"
