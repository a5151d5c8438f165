#!/usr/bin/env bash
# Run coursehub's test suite. It installs what it needs first (hub_config/bootstrap.sh),
# plus what the tests use for real: a Docker engine (Debian's docker.io, started here when
# none answers, and stopped again afterwards), PostgreSQL's binaries (each test session
# starts its own throwaway cluster) and Debian's chromium (browser tests).
source "$(dirname "${BASH_SOURCE[0]}")/../hub_config/bootstrap.sh"
cd "$COURSEHUB_REPO"

install_test_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    [[ -x /usr/lib/postgresql/15/bin/initdb ]] || missing+=(postgresql)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    command -v docker-compose >/dev/null || missing+=(docker-compose)
    [[ -x /usr/bin/chromium ]] || missing+=(chromium)
    # achievements' and streaks' emoji in the browser tests' screenshots
    [[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]] || missing+=(fonts-noto-color-emoji)
    ((${#missing[@]})) || return 0
    say "installing test dependencies: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

started_dockerd=""
start_docker_engine() {
    /usr/bin/docker info >/dev/null 2>&1 && return 0
    say "starting a Docker engine for the tests (log: /var/log/coursehub-test-dockerd.log)"
    dockerd >/var/log/coursehub-test-dockerd.log 2>&1 &
    started_dockerd=$!
    for _ in $(seq 60); do
        /usr/bin/docker info >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    say "the Docker engine did not start: Docker tests will be skipped (see the log)"
}

stop_docker_engine() {
    [[ -n $started_dockerd ]] || return 0
    kill "$started_dockerd" 2>/dev/null && wait "$started_dockerd" 2>/dev/null || true
}

if [[ $(id -u) == 0 ]]; then
    install_test_packages
    start_docker_engine
fi
# keep pytest's exit status, whatever stopping the engine returns
trap 'status=$?; stop_docker_engine; exit $status' EXIT

"$COURSEHUB_VENV/bin/ruff" check grader hub_config extensions tests
# the JupyterLab front end's unit tests (jest); its node_modules come from the build
(cd extensions/labextension && "$COURSEHUB_VENV/bin/jlpm" install --immutable >/dev/null \
    && "$COURSEHUB_VENV/bin/jlpm" test --silent)
# the slowest tests in the log, to keep the suite well under its 30 minutes
# every test, the slow ones (Docker, Swarm, browser) too: a bare pytest leaves those out
"$COURSEHUB_VENV/bin/python" -m pytest -p no:cacheprovider --durations=40 -m "slow or not slow" "$@"
