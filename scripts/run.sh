#!/usr/bin/env bash
# Sets up and starts linkcore on this machine, from a fresh Debian 12 with Swift 6.3:
# installs packages, builds (release), creates a development PKI with linkctl, writes a local
# config under ./run/ and starts linkcored in the foreground on its embedded defaults.
# Ctrl-C drains and stops it. Re-running reuses ./run/ (delete it to start over).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
echo "== build (release; the first build takes several minutes)"
swift build -c release --product linkcored
swift build -c release --product linkctl
bin="$(swift build -c release --show-bin-path)"

run="$PWD/run"
mkdir -p "$run" && chmod 700 "$run"
if [ ! -f "$run/pki/ca.pem" ]; then
    echo "== development PKI in run/pki"
    "$bin/linkctl" pki init --dir "$run/pki" --server-name localhost --server-ip 127.0.0.1
    for org in CITY01 PENSION01 HEALTH01 BANK01 MATCHER PORTAL; do
        "$bin/linkctl" pki issue --dir "$run/pki" --org "$org" --name "Demo $org"
    done
fi
if [ ! -f "$run/linkcored.toml" ]; then
    sed -e "s|@RUN@|$run|g" etc/linkcore/linkcored.local.toml > "$run/linkcored.toml"
fi

echo "== linkcored on 127.0.0.1:7400 (admin socket $run/admin.sock; 'linkctl status --socket $run/admin.sock')"
exec "$bin/linkcored" --config "$run/linkcored.toml"
