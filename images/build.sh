#!/usr/bin/env bash
# Build coursehub's images, by default without any container registry:
#   coursehub/base:bookworm   debootstrap'ed Debian 12 (images/base/build-base.sh)
#   coursehub/learner:latest  learners' servers and grading sandboxes
#   coursehub/hub:latest      JupyterHub + proxy + grading service, for docker-compose
#
# Usage: images/build.sh [--no-cache] [--docker-stacks] [learner|hub|all]   (default: all)
#   --no-cache       rebuild every step (the base image is kept: images/base/build-base.sh --force)
#   --docker-stacks  the conventional way, for machines with a registry: images/*/Dockerfile
#                    (learner FROM quay.io/jupyter/minimal-notebook, hub FROM debian)
# Env:   DOCKER (default /usr/bin/docker: the 20.10 client, whose BuildKit has --secret)
#        PYTHON (a host Python with pip, to build the coursehub wheel)
#        CACERT (CA bundle handed to pip/npm in the build as a secret; default the host's)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKER="${DOCKER:-/usr/bin/docker}"
CACERT="${CACERT:-/etc/ssl/certs/ca-certificates.crt}"
export DOCKER_BUILDKIT=1

no_cache=()
dockerfile=Dockerfile.local
target=all
for arg in "$@"; do
    case "$arg" in
        --no-cache) no_cache=(--no-cache) ;;
        --docker-stacks) dockerfile=Dockerfile ;;
        learner|hub|all) target="$arg" ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg (see $0 --help)" >&2; exit 2 ;;
    esac
done

if [[ -z "${PYTHON:-}" ]]; then
    for candidate in python3 /opt/coursehub/venv/bin/python; do
        if "$candidate" -m pip --version >/dev/null 2>&1; then PYTHON="$candidate"; break; fi
    done
fi
[[ -n "${PYTHON:-}" ]] || { echo "need a Python with pip (set PYTHON=...)" >&2; exit 1; }

timed() {  # timed LABEL CMD...: run CMD, then print how long it took
    local label="$1" start=$SECONDS
    shift
    "$@"
    echo "==> $label: $((SECONDS - start)) s"
}

if [[ "$dockerfile" == Dockerfile.local ]]; then
    timed "base image" bash "$REPO/images/base/build-base.sh"
fi

context="$(mktemp -d /tmp/coursehub-images.XXXXXX)"
trap 'rm -rf "$context"' EXIT

prepare_context() {
    # The wheel carries coursehub (grader, hub_config, the server extension and its
    # auto-enable file); requirements.txt lists its dependencies so the image installs
    # them in a layer of their own, pinned by constraints.txt and resolved in the image.
    # uv, where the run scripts installed it beside $PYTHON, builds it in seconds from
    # its cached build environment; pip sets one up anew each time
    local uv
    uv="$(dirname "$PYTHON")/uv"
    if [[ -x $uv ]]; then
        "$uv" build --quiet --wheel --python "$PYTHON" --out-dir "$context" "$REPO"
    else
        "$PYTHON" -m pip wheel --quiet --no-deps "$REPO" -w "$context"
    fi
    "$PYTHON" - "$REPO/pyproject.toml" > "$context/requirements.txt" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["dependencies"]))
PY
    cp "$REPO/images/constraints.txt" "$REPO/jupyterhub_config.py" "$context/"
}
timed "coursehub wheel" prepare_context

secret=()
[[ -s "$CACERT" ]] && secret=(--secret "id=cacert,src=$CACERT")

build_image() {  # build_image KIND
    local kind="$1"
    "$DOCKER" build "${no_cache[@]}" "${secret[@]}" \
        --label "org.coursehub.sources=$("$PYTHON" "$REPO/images/source_hash.py" "$kind")" \
        -f "$REPO/images/$kind/$dockerfile" -t "coursehub/$kind:latest" "$context"
    "$DOCKER" image ls "coursehub/$kind:latest" --format "{{.Repository}}:{{.Tag}} {{.Size}}"
}

case "$target" in
    learner|hub) timed "$target image" build_image "$target" ;;
    all) timed "learner image" build_image learner; timed "hub image" build_image hub ;;
esac
