#!/usr/bin/env bash
# Pre-Hello flood (issue 12, finding 5): opens BENCH_FLOOD (3000) bare TCP connections to
# linkcored (default config) from 127.0.0.1 and reports how many the core still holds after 1 s
# and how long until it closed all of them, with its VmRSS. With BENCH_LINKCORED_BEFORE=FILE the
# same run measures an older binary first, as the baseline. A measurement, not a test.
#   LC_BIN=DIR   prebuilt linkctl and linkcored (default .build/debug)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
# shellcheck source=linkcored-config.sh
. "$HERE/linkcored-config.sh"
LC_BIN=${LC_BIN:-$ROOT/.build/debug}
COUNT=${BENCH_FLOOD:-3000}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/linkcore-flood.XXXXXX")
PID=""
cleanup() { [[ -n "$PID" ]] && kill -KILL "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
"$LC_BIN/linkctl" pki init --dir "$WORK/pki" >"$WORK/pki.log" 2>&1

measure() { # label binary
    local label=$1 bin=$2 dir=$WORK/$1 port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    bench_linkcored_config "$dir" "$port" "$WORK/pki" flood
    "$bin" --config "$dir/linkcored.toml" >"$dir/log" 2>&1 &
    PID=$!
    python3 - "$label" "$PID" "$port" "$COUNT" <<'PY'
import socket, sys, time, errno
label, pid, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"): return int(line.split()[1]) // 1024
for _ in range(300):
    try: socket.create_connection(("127.0.0.1", port), 1).close(); break
    except OSError: time.sleep(0.1)
time.sleep(0.5)
base = rss()
socks = []
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port), 5); s.setblocking(False); socks.append(s)
start = time.monotonic()
def held():
    n = 0
    for s in socks:
        try:
            if s.recv(1) == b"": continue
        except BlockingIOError: n += 1
        except OSError: continue
    return n
time.sleep(1)
at1, rss1 = held(), rss()
left = at1
while left > 0 and time.monotonic() - start < 30:
    time.sleep(0.1); left = held()
print(f"{label}: {count} bare connections: {at1} held after 1 s; all closed after "
      f"{time.monotonic() - start:.1f} s" + ("" if left == 0 else f" (NOT: {left} still held at 30 s)")
      + f"; VmRSS {base} MiB before, {rss1} MiB at 1 s")
PY
    kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=""
}
[[ -n "${BENCH_LINKCORED_BEFORE:-}" ]] && measure before "$BENCH_LINKCORED_BEFORE"
measure after "$LC_BIN/linkcored"
