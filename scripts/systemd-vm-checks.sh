#!/bin/bash
# Runs inside the VM that scripts/systemd-vm-test.sh boots, as root, from its payload disk
# (/payload: repo/ = the repository's README, units and configs with the binaries in
# .build/release/, runtime/ = the Swift runtime libraries at their absolute paths). Installs
# linkcore by running README.md's install block literally, then checks the units under systemd.
# Writes one PASS/FAIL line per check to /payload/results.txt, then DONE. Every wait is bounded.
set -uo pipefail

results=/payload/results.txt
: >"$results"
pass() { echo "PASS $*" | tee -a "$results"; }
fail() { echo "FAIL $*" | tee -a "$results"; }
info() { echo "INFO $*" | tee -a "$results"; }
# check NAME DESCRIPTION COMMAND...: PASS when COMMAND succeeds.
check() { local name="$1" what="$2"; shift 2; if "$@"; then pass "$name: $what"; else fail "$name: $what"; fi; }
# wait_until SECONDS COMMAND...: polls COMMAND every 0.5 s until it succeeds or SECONDS pass.
wait_until() {
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do [ "$SECONDS" -ge "$deadline" ] && return 1; sleep 0.5; done
}
finish() {
    journalctl -b --no-pager -o short-precise >/payload/journal.txt 2>&1
    echo DONE >>"$results"
}
trap finish EXIT

timeout 300 systemctl is-system-running --wait >/dev/null 2>&1
echo "booted: $(systemctl is-system-running 2>&1); systemd $(systemctl --version | head -n1)"

# The Swift runtime where the binaries look for it.
cp -a /payload/runtime/. /
find /payload/runtime -name '*.so*' -printf '/%P\n' | xargs -r -n1 dirname | sort -u >/etc/ld.so.conf.d/linkcore-vm-test.conf
ldconfig

# --- install, per README.md ---------------------------------------------------------------
cp -a /payload/repo /root/linkcore
cd /root/linkcore || exit 1
awk '/<!-- install:begin -->/ { on = 1; next } /<!-- install:end -->/ { on = 0 } on && !/^```/' README.md >/root/install.sh
pki=/root/linkcore-pki
check install "README.md's install block runs to the end (exit 0)" \
    timeout 900 bash -euo pipefail -x /root/install.sh >/payload/install.log 2>&1
if ! systemctl is-active --quiet linkcored.service; then
    fail "install: linkcored.service is not active after the install block"
    tail -n 30 /payload/install.log
    exit 0
fi

linkcored_pid() { systemctl show -p MainPID --value linkcored.service; }
conf=/etc/linkcore/linkcored.toml
cp "$conf" /root/linkcored.toml.good

# A TLS handshake with an organisation's certificate (openssl s_client; -verify_return_error: the
# core's certificate must verify too). Succeeds only when the handshake completes.
handshake() {
    timeout 60 openssl s_client -connect 127.0.0.1:7400 -servername 127.0.0.1 -brief -verify_return_error \
        -CAfile "$pki/ca.pem" -cert "$pki/orgs/CITY01.pem" -key "$pki/orgs/CITY01.key" </dev/null >/tmp/s_client.log 2>&1 &&
        grep -q "CONNECTION ESTABLISHED" /tmp/s_client.log
}

# --- the sandbox ----------------------------------------------------------------------------
unprivileged() {
    local pid; pid="$(linkcored_pid)"
    [ "$pid" != 0 ] && awk '/^Uid:/ { exit !($2 != 0) }' "/proc/$pid/status" &&
        grep -q '^CapEff:[[:space:]]*0000000000000000$' "/proc/$pid/status"
}
check sandbox "linkcored runs as a dynamic user with no effective capabilities" unprivileged

# --- socket activation and the handshake ----------------------------------------------------
systemctl stop linkcored.service
socket_listening() { systemctl is-active --quiet linkcored.socket && ! systemctl is-active --quiet linkcored.service; }
if wait_until 30 socket_listening; then
    check socket-activation "a TLS handshake (openssl s_client, CITY01's certificate) on linkcored.socket starts the service and completes" handshake
    sed 's/^/    s_client: /' /tmp/s_client.log | head -n 8
    check socket-activation-started "linkcored.service was started by the connection" systemctl is-active --quiet linkcored.service
else
    fail "socket-activation: linkcored.service did not stop with the socket listening"
fi

# --- a peer's session, and the journal ------------------------------------------------------
: >/root/empty.table
peer_pid=""
start_peer() {
    rm -f /tmp/peer.out
    /root/linkcore/.build/release/linkcore-adapter provide --core 127.0.0.1:7400 --server-name 127.0.0.1 \
        --certificate "$pki/orgs/CITY01.pem" --private-key "$pki/orgs/CITY01.key" --ca-bundle "$pki/ca.pem" \
        --table /root/empty.table >/tmp/peer.out 2>/tmp/peer.err &
    peer_pid=$!
    wait_until 60 grep -q '^ready' /tmp/peer.out
}
peer_alive() { [ -n "$peer_pid" ] && kill -0 "$peer_pid" 2>/dev/null; }
peer_listed() { linkctl status 2>/dev/null | grep -q '^  CITY01 '; }
check session "a peer (linkcore-adapter provide as CITY01) gets its Welcome" start_peer
journal_org() { journalctl -u linkcored.service ORG=CITY01 --no-pager -o verbose 2>/dev/null | grep -q 'ORG=CITY01'; }
check journal-fields "the journal has linkcored entries with the structured field ORG=CITY01" wait_until 30 journal_org
journalctl -u linkcored.service ORG=CITY01 --no-pager -o verbose -n 1 2>/dev/null | grep -E '^\s+(MESSAGE|ORG|PRIORITY|CODE_FILE)=' | head -n 4

# --- reload ---------------------------------------------------------------------------------
check reload "systemctl reload linkcored exits 0 with a peer connected" timeout 120 systemctl reload linkcored.service
check reload-peer-kept "the peer stays connected through the reload" bash -c "$(declare -f peer_alive peer_listed); peer_pid=$peer_pid; peer_alive && peer_listed"

sed -i 's/^\[limits\]$/[limits]\nmax_in_flight = "many"/' "$conf"
bad_line="$(grep -n '^max_in_flight = "many"' "$conf" | cut -d: -f1)"
mark="$(date '+%Y-%m-%d %H:%M:%S')"
if timeout 120 systemctl reload linkcored.service 2>/tmp/reload.err; then
    fail "reload-failure: systemctl reload exits 0 for a config the daemon refuses"
else
    pass "reload-failure: systemctl reload exits non-zero for a config the daemon refuses"
fi
reason_logged() { journalctl -u linkcored.service --since "$mark" --no-pager | grep -q "linkcored.toml:$bad_line.*max_in_flight"; }
check reload-failure-reason "the reason, linkcored.toml:$bad_line [limits] max_in_flight, is in the journal (linkctl reload's stderr)" wait_until 20 reason_logged
journalctl -u linkcored.service --since "$mark" --no-pager | grep -m1 'reload failed' | sed 's/^/    /'
check reload-failure-kept "the old config stays in force: active, the peer connected, new handshakes complete" \
    bash -c "$(declare -f peer_alive peer_listed handshake); peer_pid=$peer_pid; pki=$pki; systemctl is-active --quiet linkcored.service && peer_alive && peer_listed && handshake"
cp /root/linkcored.toml.good "$conf"
check reload-again "with the config fixed, systemctl reload exits 0 again" timeout 120 systemctl reload linkcored.service


# --- watchdog -------------------------------------------------------------------------------
restarts_before="$(systemctl show -p NRestarts --value linkcored.service)"
old_pid="$(linkcored_pid)"
# MainPID is 0 when the service is not running: `kill -STOP 0` would stop this script's own group.
[ "$old_pid" -gt 1 ] && kill -STOP "$old_pid"
restarted() {
    local pid; pid="$(linkcored_pid)"
    [ "$(systemctl show -p NRestarts --value linkcored.service)" -gt "$restarts_before" ] &&
        [ "$pid" != 0 ] && [ "$pid" != "$old_pid" ] && systemctl is-active --quiet linkcored.service
}
# WatchdogSec=30s, then SIGABRT, then the restart: bounded at 150 s.
check watchdog "a stopped (kill -STOP) daemon is killed by the watchdog and restarted (NRestarts $restarts_before -> +1)" wait_until 150 restarted
watchdog_logged() { journalctl -u linkcored.service --no-pager | grep -qi 'watchdog timeout'; }
check watchdog-journal "systemd logged the watchdog timeout" watchdog_logged
check watchdog-serves "the restarted daemon completes handshakes" handshake

# --- stop and drain -------------------------------------------------------------------------
start_peer >/dev/null || true
timeout 60 systemctl stop linkcored.service
stop_result() { [ "$(systemctl show -p ExecMainStatus --value linkcored.service)" = 0 ] && [ "$(systemctl show -p Result --value linkcored.service)" = success ]; }
check stop "systemctl stop: linkcored drains and exits 0 (Result=success)" stop_result
check stop-peer "the connected peer was let go (GoingAway, then the close)" wait_until 30 bash -c "! kill -0 $peer_pid 2>/dev/null"
stopped_logged() { journalctl -u linkcored.service --no-pager | grep -q 'linkcored stopped'; }
check stop-journal "linkcored logged its drain and stop" stopped_logged

# --- a bad configuration ----------------------------------------------------------------------
sed -i 's/^\[limits\]$/[limits]\nmax_in_flight = 0/' "$conf"
bad_line="$(grep -n '^max_in_flight = 0' "$conf" | cut -d: -f1)"
timeout 120 systemctl start linkcored.service 2>/dev/null
check bad-config-78 "a bad config: the start fails with exit status 78" \
    test "$(systemctl show -p ExecMainStatus --value linkcored.service)" = 78
systemctl status linkcored.service --no-pager -l >/tmp/status.txt 2>&1
sed 's/^/    /' /tmp/status.txt | head -n 14
check bad-config-status "systemctl status shows the error line (linkcored.toml:$bad_line [limits] max_in_flight)" \
    grep -q "linkcored.toml:$bad_line.*max_in_flight" /tmp/status.txt
restarts_before="$(systemctl show -p NRestarts --value linkcored.service)"
# No restart loop: RestartSec=2s would have restarted it several times within 10 s.
sleep 10
check bad-config-no-loop "no restart loop (NRestarts stays $restarts_before, the unit stays failed)" \
    bash -c "[ \"\$(systemctl show -p NRestarts --value linkcored.service)\" = $restarts_before ] && systemctl is-failed --quiet linkcored.service"
check bad-config-socket "linkcored.socket is still listening" systemctl is-active --quiet linkcored.socket
# Peers keep knocking while the config is broken: each attempt is a start that fails (78) and
# closes the queued connection; more attempts than the old StartLimitBurst=5 must not stop the socket.
for _ in $(seq 8); do handshake && echo "    unexpected: a handshake completed with a broken config"; done
settled() { ! systemctl is-active --quiet linkcored.service && [ -z "$(systemctl list-jobs --no-legend linkcored.service 2>/dev/null)" ]; }
wait_until 60 settled
info "after 8 connection attempts: linkcored.socket $(systemctl show -p ActiveState,Result --value linkcored.socket | paste -sd' '), linkcored.service $(systemctl show -p ActiveState,Result,ExecMainStatus --value linkcored.service | paste -sd' ')"
check bad-config-knocks "8 connection attempts during the bad config: each refused, linkcored.socket still listening (no start-limit-hit)" \
    systemctl is-active --quiet linkcored.socket
check bad-config-knocks-78 "...and linkcored.service still reports the config error (78), not a start limit" \
    bash -c "[ \"\$(systemctl show -p ExecMainStatus --value linkcored.service)\" = 78 ] && [ \"\$(systemctl show -p Result --value linkcored.service)\" != start-limit-hit ]"

cp /root/linkcored.toml.good "$conf"
systemctl reset-failed linkcored.socket linkcored.service
timeout 120 systemctl start linkcored.socket linkcored.service
check reset-failed "after fixing the config and reset-failed, the socket and the service serve handshakes again" \
    bash -c "$(declare -f handshake); pki=$pki; systemctl is-active --quiet linkcored.socket && systemctl is-active --quiet linkcored.service && handshake"

# --- journal noise (every linkcored, linkctl reload and matcher process of the run) -------
no_priority_noise() { ! journalctl -b --no-pager | grep 'Failed to set thread priority'; }
check journal-quiet "no 'Failed to set thread priority' lines from libdispatch in the journal (linkcored, linkctl reload, the matcher)" no_priority_noise
