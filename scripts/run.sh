#!/usr/bin/env bash
# Sets up and starts linkcore on this machine, from a fresh Debian 12 with Swift 6.3:
# installs packages, builds (release), creates a development PKI and master key with linkctl,
# writes a local config under ./run/, starts linkcored on its embedded defaults (SQLite) and
# registers the demo organisations. Ctrl-C drains and stops it. Re-running reuses ./run/
# (delete it to start over).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
echo "== build (release; the first build takes several minutes)"
swift build -c release --product linkcored
swift build -c release --product linkctl
swift build -c release --product linkcore-matcher
bin="$(swift build -c release --show-bin-path)"

run="$PWD/run"
orgs=(CITY01:agency:public PENSION01:agency:public HEALTH01:agency:public BANK01:private-connector:private
      MATCHER:matcher:public PORTAL:portal:public)
mkdir -p "$run" && chmod 700 "$run"
if [ ! -f "$run/pki/ca.pem" ]; then
    echo "== development PKI in run/pki"
    "$bin/linkctl" pki init --dir "$run/pki" --server-name localhost --server-ip 127.0.0.1
    for entry in "${orgs[@]}"; do
        "$bin/linkctl" pki issue --dir "$run/pki" --org "${entry%%:*}" --name "Demo ${entry%%:*}"
    done
fi
[ -f "$run/master.key" ] || (umask 077 && head -c 32 /dev/urandom > "$run/master.key")
[ -f "$run/linkcored.toml" ] || sed -e "s|@RUN@|$run|g" etc/linkcore/linkcored.local.toml > "$run/linkcored.toml"
[ -f "$run/whitelist-builtin.csv" ] || cp etc/linkcore/whitelist-builtin.csv "$run/"

echo "== linkcored on 127.0.0.1:7400 (admin socket run/admin.sock)"
"$bin/linkcored" --config "$run/linkcored.toml" &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon' INT TERM
for _ in $(seq 100); do [ -S "$run/admin.sock" ] && break; sleep 0.1; done
for entry in "${orgs[@]}"; do
    IFS=: read -r code role sector <<<"$entry"
    "$bin/linkctl" org show --socket "$run/admin.sock" "$code" >/dev/null 2>&1 ||
        "$bin/linkctl" org add --socket "$run/admin.sock" --code "$code" --name "Demo $code" --sector "$sector" --role "$role"
done
"$bin/linkctl" status --socket "$run/admin.sock"
echo "== running; Ctrl-C to drain and stop"
wait $daemon
