# Prepare a machine for coursehub: system packages, a virtualenv, configurable-http-proxy.
# Sourced by hub_config/run.sh and tests/run.sh; idempotent and quick once done.
#
# The virtualenv is made from Debian's /usr/bin/python3 and lives outside the checkout
# (default /opt/coursehub/venv), so that learners' servers, which run as unprivileged
# accounts in development mode, and the grading sandbox (`nobody`) can execute it
# wherever the checkout is. The project is installed into it (not editable) for the
# same reason.

set -euo pipefail

COURSEHUB_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COURSEHUB_PREFIX="${COURSEHUB_PREFIX:-/opt/coursehub}"
COURSEHUB_VENV="${COURSEHUB_VENV:-$COURSEHUB_PREFIX/venv}"
# downloads kept across installs (a new virtualenv, a new checkout, CI's clean clone):
# uv's and pip's wheels, npm's packages
COURSEHUB_CACHE_DIR="${COURSEHUB_CACHE_DIR:-$COURSEHUB_PREFIX/cache}"
CHP_VERSION="5.3.0"
# uv installs the Python dependencies (seconds where pip takes minutes); pip stays the
# fallback where uv cannot reach the index (a mirror only pip.conf knows of)
UV_VERSION="0.13.9"
export COURSEHUB_REPO COURSEHUB_VENV
export UV_CACHE_DIR="$COURSEHUB_CACHE_DIR/uv" PIP_CACHE_DIR="$COURSEHUB_CACHE_DIR/pip"
export npm_config_cache="$COURSEHUB_CACHE_DIR/npm"
# the system's certificates, as pip uses them
export UV_NATIVE_TLS=1

say() { printf 'coursehub: %s\n' "$*" >&2; }

# A long step of the first start: announced, then timed. Each install_* function calls
# it only when it has something to do, so a start with everything in place stays quiet.
step_started=0
step() {
    step_done
    say "$*"
    step_started=$SECONDS
    step_name="$*"
}
step_done() {
    if ((step_started)); then
        say "  done in $((SECONDS - step_started)) s"
        step_started=0
    fi
}
# Lines of a long-running tool worth showing, prefixed; everything else dropped. The
# tools' errors still show: each caller checks the exit status and says what failed.
progress() {
    local pattern="$1" line
    while IFS= read -r line; do
        [[ $line =~ $pattern ]] && say "  $line"
    done
    return 0
}

install_system_packages() {
    local missing=()
    command -v bwrap >/dev/null || missing+=(bubblewrap)
    /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
    command -v npm >/dev/null || missing+=(nodejs npm)
    command -v useradd >/dev/null || missing+=(passwd)
    ((${#missing[@]})) || return 0
    if [[ $(id -u) != 0 ]]; then
        say "missing system packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})"
        return 1
    fi
    step "installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

install_python_packages() {
    local stamp="$COURSEHUB_VENV/.coursehub-installed"
    local project_stamp_file="$COURSEHUB_VENV/.coursehub-project"
    local wanted project
    wanted="$(cat "$COURSEHUB_REPO/pyproject.toml" "$COURSEHUB_REPO/images/constraints.txt" \
        | sha256sum | cut -c1-16)"
    # the project as its files are now (installing changes none of them)
    project="$(project_stamp)"
    if [[ ! -x $COURSEHUB_VENV/bin/python ]]; then
        step "creating a virtualenv in $COURSEHUB_VENV"
        mkdir -p "$(dirname "$COURSEHUB_VENV")"
        /usr/bin/python3 -m venv "$COURSEHUB_VENV"
    fi
    if [[ $("$COURSEHUB_VENV/bin/uv" --version 2>/dev/null) != "uv $UV_VERSION"* ]]; then
        step "installing uv $UV_VERSION (the installer of the Python dependencies)"
        "$COURSEHUB_VENV/bin/pip" install -q "uv==$UV_VERSION" 2>&1 | progress '^ERROR' \
            || say "  uv could not be installed: pip installs the dependencies"
    fi
    if [[ ! -f $stamp || $(cat "$stamp") != "$wanted" ]]; then
        step "installing Python dependencies and coursehub (cache: $COURSEHUB_CACHE_DIR)"
        # the project is installed with its dependencies
        python_install --reinstall-package coursehub -c "$COURSEHUB_REPO/images/constraints.txt" \
            "$COURSEHUB_REPO[test]"
        # jsonschema's optional checker of the `iri` format, which no Jupyter schema
        # uses: it compiles its grammars on import, a second in every process that
        # imports nbformat (the Hub, the grader, each learner's server)
        "$COURSEHUB_VENV/bin/python" -m pip uninstall -q -y rfc3987-syntax
        echo "$wanted" >"$stamp"
        echo "$project" >"$project_stamp_file"
        chmod -R a+rX "$COURSEHUB_VENV"
    fi
    # the project itself, whenever the checkout's code differs from what is installed
    if [[ ! -f $project_stamp_file || $(cat "$project_stamp_file") != "$project" ]]; then
        step "installing coursehub from $COURSEHUB_REPO"
        python_install --no-deps --reinstall-package coursehub "$COURSEHUB_REPO"
        echo "$project" >"$project_stamp_file"
        chmod -R a+rX "$COURSEHUB_VENV"
    fi
}

# python_install ARGS...: uv pip install into the virtualenv, showing uv's summary lines
# (resolved, prepared, installed: each with its time); pip if uv fails
python_install() {
    local uv_args=("$@")
    if [[ -x $COURSEHUB_VENV/bin/uv ]] && "$COURSEHUB_VENV/bin/uv" pip install \
        --python "$COURSEHUB_VENV/bin/python" "${uv_args[@]}" 2>&1 \
        | progress '^(Resolved|Prepared|Installed|Uninstalled|error|  ×|  ╰)'; then
        return 0
    fi
    # pip spells uv's --reinstall-package <name> as --force-reinstall
    local pip_args=() skip=""
    for arg in "$@"; do
        if [[ $skip ]]; then skip=""; continue; fi
        if [[ $arg == --reinstall-package ]]; then pip_args+=(--force-reinstall); skip=1
        else pip_args+=("$arg"); fi
    done
    say "  uv could not install them: trying pip (slower)"
    "$COURSEHUB_VENV/bin/pip" install "${pip_args[@]}" 2>&1 \
        | progress '^(Collecting|Installing collected|Successfully installed|ERROR)'
}

project_stamp() {
    # a hash of the installed parts' files as they are in the work tree (edits included);
    # outside a git checkout, something new each time: always reinstall
    if git -C "$COURSEHUB_REPO" rev-parse --git-dir >/dev/null 2>&1; then
        (cd "$COURSEHUB_REPO" && git ls-files -z --cached --others --exclude-standard -- \
            grader hub_config extensions jupyterhub_config.py pyproject.toml \
            | xargs -0 sha256sum 2>/dev/null | sha256sum | cut -c1-16)
    else
        date +%s%N
    fi
}

install_proxy() {
    local chp="$COURSEHUB_PREFIX/chp"
    if [[ ! -x $chp/node_modules/.bin/configurable-http-proxy ]]; then
        step "installing configurable-http-proxy $CHP_VERSION from npm"
        mkdir -p "$chp"
        npm install --silent --no-audit --no-fund --prefix "$chp" \
            "configurable-http-proxy@$CHP_VERSION" >/dev/null
    fi
    export PATH="$chp/node_modules/.bin:$PATH"
}

# Languages other than Python (issue 13): their Debian packages, one list. Each
# language adds its own block of packages here.
LANGUAGE_PACKAGES=(
    # R: the interpreter, its Jupyter kernel (IRkernel, kernelspec "ir"), jsonlite (the
    # grading drivers' messages) and testthat (tests' expect_*)
    r-base-core r-cran-irkernel r-cran-jsonlite r-cran-testthat
    # C: the compiler and the C library's headers, for coursehub's C kernel (its
    # kernelspec "coursehub-c" comes with the project's wheel) and the C graders
    gcc libc6-dev
)
install_language_packages() {
    local missing=() package
    for package in "${LANGUAGE_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
            || missing+=("$package")
    done
    if ((${#missing[@]})); then
        if [[ $(id -u) != 0 ]]; then
            say "missing language packages: ${missing[*]} (install them as root: apt-get install --no-install-recommends ${missing[*]})"
            return 1
        fi
        step "installing language packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
    install_r_kernel
}

# R's kernelspec ("ir", the one r-cran-irkernel ships in /usr/share/jupyter/kernels) in
# the virtualenv too, where JupyterLab in the virtualenv looks first
install_r_kernel() {
    local kernel_dir="$COURSEHUB_VENV/share/jupyter/kernels/ir"
    [[ -f $kernel_dir/kernel.json ]] && return 0
    mkdir -p "$kernel_dir"
    cp /usr/share/jupyter/kernels/ir/* "$kernel_dir/"
    chmod -R a+rX "$kernel_dir"
}

# JavaScript (issue 13): questions in JavaScript open on deno's Jupyter kernel
# (kernelspec "deno", from PyPI's `deno` wheel, which ships the binary) and are graded
# by Node.js (/usr/bin/node, from install_system_packages' nodejs). The kernelspec goes
# into the virtualenv, where the learners' Jupyter finds it; no network at run time.
DENO_VERSION="2.9.8"
install_javascript_kernel() {
    local kernel_dir="$COURSEHUB_VENV/share/jupyter/kernels/deno"
    if [[ $("$COURSEHUB_VENV/bin/deno" --version 2>/dev/null | head -n1) != "deno $DENO_VERSION"* ]]; then
        step "installing deno $DENO_VERSION (the JavaScript kernel) from PyPI"
        python_install "deno==$DENO_VERSION"
    fi
    if [[ ! -f $kernel_dir/kernel.json ]]; then
        mkdir -p "$kernel_dir"
        # language "javascript": nbgrader picks a solution's code_stub by this name
        printf '{"argv": ["%s", "jupyter", "--kernel", "--conn", "{connection_file}"], "display_name": "JavaScript (Deno)", "language": "javascript"}\n' \
            "$COURSEHUB_VENV/bin/deno" >"$kernel_dir/kernel.json"
        chmod -R a+rX "$kernel_dir"
    fi
}

close_checkout() {
    # In development mode learners' servers are local processes: the checkout holds
    # course sources with solutions and hidden tests, so only its owner may enter it.
    # Learners run from the virtualenv, which lives elsewhere.
    chmod go-rwx "$COURSEHUB_REPO"
}

# COURSEHUB_BOOTSTRAP_FUNCTIONS_ONLY=1: define the functions above, install nothing (tests)
if [[ -z ${COURSEHUB_BOOTSTRAP_FUNCTIONS_ONLY:-} ]]; then
    install_system_packages
    install_python_packages
    install_proxy
    install_language_packages
    install_javascript_kernel
    close_checkout
    step_done
    export PATH="$COURSEHUB_VENV/bin:$PATH"
fi
