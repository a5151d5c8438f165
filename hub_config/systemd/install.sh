#!/usr/bin/env bash
# Install coursehub's systemd unit (coursehub@.service) for this checkout:
#   bash hub_config/systemd/install.sh            then: systemctl enable --now coursehub@<name>
# Env: SYSTEMD_UNIT_DIR (default /etc/systemd/system)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
unit_dir="${SYSTEMD_UNIT_DIR:-/etc/systemd/system}"
mkdir -p "$unit_dir"
# the checkout's path in the unit; '|' cannot be in it unescaped, '&' would mean the match
escaped="$(printf '%s' "$repo" | sed 's/[|&\\]/\\&/g')"
sed "s|@COURSEHUB_REPO@|$escaped|g" "$repo/hub_config/systemd/coursehub@.service" \
    >"$unit_dir/coursehub@.service"
echo "installed $unit_dir/coursehub@.service (checkout: $repo)"
# a systemd that runs (not a container's) learns of it now
if [[ -d /run/systemd/system ]]; then
    systemctl daemon-reload
fi
echo "start an instance: systemctl enable --now coursehub@<name>;" \
    "its settings: /etc/coursehub/<name>.env (COURSEHUB_*=... lines)"
