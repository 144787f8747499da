#!/usr/bin/env bash
# The demo network on three core nodes sharing one PostgreSQL database (issue 16, item 5):
#   a private PostgreSQL 15 primary (initdb in /tmp, a Unix socket only, fsync and
#     synchronous_commit on) with one synchronous streaming standby (pg_basebackup -R, standby1 in
#     synchronous_standby_names), the nodes' connection string listing both, read-write target,
#   linkcored nodes n1, n2, n3 (peers on 127.0.0.1:7401-7403, node-to-node mutual TLS on 7411-7413,
#     admin sockets run-cluster/nN/admin.sock, the shipped whitelist and fees modules),
#   linkcore-matcher and the adapters of CITY01 (on n1), PENSION01 (n2), HEALTH01 (n3) and BANK01
#     (n1), each given all three nodes, its own first;
# then runs chapters 1-4 of the demo scenario (scripts/demo-scenario.sh: links, questions that
# cross nodes, a change event, the bank's fees), kills -9 the node PENSION01 is on, shows its
# adapter reconnecting to another node and a question to it answered, checks the one access log
# with `linkctl audit verify`; then kills -9 the database's primary, promotes the standby (and
# clears synchronous_standby_names on it: it has no standby of its own), shows the nodes answering
# again on the promoted server with nothing acknowledged lost, verifies the access log again,
# prints "cluster scenario complete" and stops everything it started.
# The organisations, PKI, registry, matcher and adapters are scripts/run.sh's (scripts/demo-network.sh).
# State in ./run-cluster, made afresh at each start. Not at the same time as scripts/run.sh (same
# adapter and matcher ports). CONFIG=debug uses (and builds) debug binaries; BUILD=0 skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
config="${CONFIG:-release}"
if [ "${BUILD:-1}" = 0 ]; then echo "== no build (BUILD=0): the $config binaries as they are"; else
echo "== build ($config)"
for product in linkcored linkctl linkcore-matcher linkcore-adapter; do swift build -c "$config" --product "$product"; done
for module in whitelist fees; do swift build -c "$config" --product "linkcore-policy-$module"; done
fi
bin="$(swift build -c "$config" --show-bin-path)"
etc="$PWD/etc/linkcore"
run="$PWD/run-cluster"
rm -rf "$run"
. scripts/demo-network.sh
nodes=(n1 n2 n3)
declare -A client_port=([n1]=7401 [n2]=7402 [n3]=7403) node_port=([n1]=7411 [n2]=7412 [n3]=7413)
declare -A home=([CITY01]=n1 [PENSION01]=n2 [HEALTH01]=n3 [BANK01]=n1) pid=()
demo_pki
demo_registry
for node in "${nodes[@]}"; do
    "$bin/linkctl" pki issue-node --dir "$run/pki" --name "$node" --dns localhost --ip 127.0.0.1 >/dev/null
done

# PostgreSQL: initdb and the servers run as the postgres account when this runs as root (both
# refuse root); the directories are in /tmp, short enough for the sockets' paths.
pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
pg="$(mktemp -d /tmp/linkcore-cluster-pg.XXXXXX)"      # the primary
pgs="$(mktemp -d /tmp/linkcore-cluster-pgs.XXXXXX)"    # its synchronous standby, standby1
chmod 755 "$pg" "$pgs"
as_pg=()
if [ "$(id -u)" = 0 ]; then chown postgres: "$pg" "$pgs"; as_pg=(runuser -u postgres --); fi
pgport=7432 pgsport=7433
demo_after_stop() {
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgs/data" stop -m fast >/dev/null 2>&1 || true
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pg/data" stop -m immediate >/dev/null 2>&1 || true
    rm -rf "$pg" "$pgs"
}
demo_traps
psql_at() { "$pgbin/psql" -X -q -A -t -h "$1" -p "$2" -U linkcore -d "${3:-postgres}" -c "$4"; }
echo "== PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}'): primary $pg/.s.PGSQL.$pgport, standby $pgs/.s.PGSQL.$pgsport (logs $run/logs/postgresql-*.log)"
"${as_pg[@]}" "$pgbin/initdb" -D "$pg/data" -U linkcore --auth=trust --encoding=UTF8 --locale=C >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pg/data" -l "$pg/server.log" -w -t 60 start \
    -o "-p $pgport -c listen_addresses='' -c unix_socket_directories=$pg -c fsync=on -c synchronous_commit=on" >/dev/null
ln -sf "$pg/server.log" "$run/logs/postgresql-primary.log"
psql_at "$pg" "$pgport" postgres "CREATE DATABASE linkcore"
# A commit waits for standby1's flush: an acknowledged write is on both servers. In
# postgresql.auto.conf, as an operator's postgresql.conf would be, so pg_basebackup copies it to
# the standby (what the promotion below has to deal with).
psql_at "$pg" "$pgport" postgres "ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (standby1)'"
psql_at "$pg" "$pgport" postgres "SELECT pg_reload_conf()" >/dev/null
# trust on the socket covers replication connections too (initdb's pg_hba.conf)
"${as_pg[@]}" "$pgbin/pg_basebackup" -D "$pgs/data" -R -X stream -c fast -h "$pg" -p "$pgport" -U linkcore
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgs/data" -l "$pgs/server.log" -w -t 60 start \
    -o "-p $pgsport -c listen_addresses='' -c unix_socket_directories=$pgs -c cluster_name=standby1" >/dev/null
ln -sf "$pgs/server.log" "$run/logs/postgresql-standby.log"
for _ in $(seq 300); do
    [ "$(psql_at "$pg" "$pgport" postgres "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'")" = sync ] && break
    sleep 0.1
done
echo "  standby1: $(psql_at "$pg" "$pgport" postgres "SELECT state || ', ' || sync_state FROM pg_stat_replication WHERE application_name = 'standby1'")"
# The connection string is a secret: a 0600 file (a systemd credential in production). Both
# servers, in order; a node takes the first that accepts writes.
(umask 077; printf 'postgresql://linkcore@/linkcore?host=%s,%s&port=%s,%s&target_session_attrs=read-write\n' \
    "$pg" "$pgs" "$pgport" "$pgsport" > "$run/postgresql.conn")

# Each node: the local config with its own ports, state and admin socket, plus [store] and [node].
for node in "${nodes[@]}"; do
    mkdir -p "$run/$node"
    sed -e "s|@RUN@|$run|g" -e "s|@BIN@|$bin|g" -e "s|@ETC@|$etc|g" \
        -e "s|^state_directory = .*|state_directory = \"$run/$node/state\"|" \
        -e "s|^addresses = \\[\"127.0.0.1:7400\"\\]|addresses = [\"127.0.0.1:${client_port[$node]}\"]|" \
        -e "s|^admin_socket = .*|admin_socket = \"$run/$node/admin.sock\"|" \
        -e "s|^delivery_window_ms = .*|&\nsweep_interval_ms = 500|" \
        "$etc/linkcored.local.toml" > "$run/$node/linkcored.toml"
    cat >> "$run/$node/linkcored.toml" <<TOML

[store]
engine = "postgresql"
connection = "$run/postgresql.conn"

[node]
name = "$node"
listen = ["127.0.0.1:${node_port[$node]}"]
certificate = "$run/pki/nodes/$node.pem"
private_key = "$run/pki/nodes/$node.key"
TOML
done
for node in "${nodes[@]}"; do
    echo "== linkcored $node on 127.0.0.1:${client_port[$node]}, nodes' port ${node_port[$node]} (log $run/logs/linkcored-$node.log)"
    demo_spawn "$run/logs/linkcored-$node.log" "$bin/linkcored" --config "$run/$node/linkcored.toml"
    pid[$node]="${demo_pids[-1]}"
    demo_wait_socket "$run/$node/admin.sock" "$run/logs/linkcored-$node.log"
    # Once, through the first node (one database): the others see them at their next heartbeat.
    if [ "$node" = n1 ]; then demo_register_orgs "$run/n1/admin.sock"; fi
done

# The peers get every node, their own first (a peer connects to the first that answers).
node_list() { # FIRST-NODE: the TOML list of addresses starting with it
    local i start list=() n
    for i in 0 1 2; do [ "${nodes[$i]}" = "$1" ] && start=$i; done
    for i in 0 1 2; do n="${nodes[$(( (start + i) % 3 ))]}"; list+=("\"127.0.0.1:${client_port[$n]}\""); done
    (IFS=,; echo "[${list[*]}]")
}
sed -i -e "s|^address = \"127.0.0.1:7400\"|address = $(node_list n1)|" "$run/matcher.toml"
demo_start_matcher
for entry in "${demo_adapters[@]}"; do
    org="${entry%%:*}"; port="${entry##*:}"
    demo_adapter_config "$org" "$port" "$(node_list "${home[$org]}")"
    demo_adapter_start "$org" "$port" "on ${home[$org]}"
done
demo_wait_adapters

# The nodes see each other's peers once every node has renewed its lease with them.
for _ in $(seq 200); do
    held="$("$bin/linkctl" status --socket "$run/n1/admin.sock" | grep -c 'lease .* left  peers [A-Z]' || true)"
    [ "$held" = 3 ] && break; sleep 0.1
done
echo
"$bin/linkctl" status --socket "$run/n1/admin.sock" | sed -n '/^node:/,$p'

echo "== scenario, across the nodes"
DEMO_CHAPTERS=network ./scripts/demo-scenario.sh "$run" "$bin"

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
fail() { printf '\033[31mFAILED: %s\033[0m\n' "$*" >&2; exit 1; }
bold "5. A node fails: kill -9 of n2, where PENSION01 is connected"
core_address() { demo_adapter_status PENSION01 | jq -r 'if .core_connected then .core_address else "" end'; }
echo "  PENSION01 is on $(core_address)"
killed_at="$(date +%s%N)"
kill -KILL "${pid[n2]}"
{ wait "${pid[n2]}"; } 2>/dev/null || true   # reaped here, without the shell's "Killed" line
for _ in $(seq 600); do
    now="$(core_address)"
    [ -n "$now" ] && [ "$now" != "127.0.0.1:${client_port[n2]}" ] && break; sleep 0.05
done
[ -n "$now" ] && [ "$now" != "127.0.0.1:${client_port[n2]}" ] || fail "PENSION01 did not reconnect to another node"
echo "  PENSION01's adapter reconnected to $now after $(( ($(date +%s%N) - killed_at) / 1000000 )) ms"
# CITY01 (n1) asks PENSION01 as soon as its node knows where PENSION01 is now; until then the
# answer is a retryable PROVIDER_UNAVAILABLE, which a careful client sends again.
asked=""; refused=0
for _ in $(seq 100); do
    asked="$(curl -s -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $(cat "$run/adapters/CITY01/api-token")" \
        --data '{"person_id":"JUMIN-0001","provider_org":"PENSION01","bp_id":"BP-CHILD-REARING-ALLOWANCE","info_type":"PENSION-BENEFIT"}' \
        -w '\n%{http_code}' http://127.0.0.1:8481/ask)"
    [ "$(tail -n1 <<<"$asked")" = 200 ] && break
    refused=$(( refused + 1 )); sleep 0.2
done
[ "$(tail -n1 <<<"$asked")" = 200 ] || fail "CITY01 asks PENSION01 after the failover: $asked"
echo "  CITY01 (n1) asks PENSION01 (now on $now): answered \"$(sed '$d' <<<"$asked" | jq -r .answer)\""
[ "$refused" = 0 ] ||
    echo "  (after $refused retryable refusal(s) while n1 still routed PENSION01 to n2; each is in the access log)"
"$bin/linkctl" status --socket "$run/n1/admin.sock" | sed -n '/^cluster nodes:/,$p'

bold "6. One access log for the cluster: linkctl audit verify (through n3)"
"$bin/linkctl" audit verify --socket "$run/n3/admin.sock" | sed 's/^/  /'

bold "7. The database fails: kill -9 of the primary, standby1 promoted"
ask_pension() { # one question from CITY01 (n1) to PENSION01; prints the body, then the HTTP status
    curl -s -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $(cat "$run/adapters/CITY01/api-token")" \
        --data '{"person_id":"JUMIN-0001","provider_org":"PENSION01","bp_id":"BP-CHILD-REARING-ALLOWANCE","info_type":"PENSION-BENEFIT"}' \
        -w '\n%{http_code}' http://127.0.0.1:8481/ask
}
answered_before="$(psql_at "$pg" "$pgport" linkcore "SELECT count(*) FROM access_log WHERE outcome = 1")"
echo "  answered mediations in the access log before the kill: $answered_before (on both servers: the standby is synchronous)"
n1_log="$run/logs/linkcored-n1.log"
n1_since() { tail -n +"$(( log_mark + 1 ))" "$n1_log"; }   # n1's log lines since the kill
log_mark="$(wc -l < "$n1_log")"
kill -KILL "$(head -n1 "$pg/data/postmaster.pid")"
killed_at="$(date +%s%N)"
# No server accepts writes now: the nodes say so (systemd STATUS, linkcore_store_reachable, the
# log) and refuse work, retryable.
for _ in $(seq 100); do n1_since | grep -q 'store NOT READY' && break; sleep 0.1; done
n1_since | grep -q 'store NOT READY' || fail "n1 does not report NOT READY without a primary"
echo "  n1: store NOT READY: $(n1_since | grep -m1 'store NOT READY' | grep -o 'no read-write server among [0-9]*')"
asked="$(ask_pension)"
echo "  a question meanwhile: HTTP $(tail -n1 <<<"$asked"), $(sed '$d' <<<"$asked" | jq -c '.error | {code, retryable}' 2>/dev/null || sed '$d' <<<"$asked")"
# The operator (or Patroni) promotes the standby once the old primary is known dead (fenced). It
# inherited synchronous_standby_names from the primary and has no standby of its own: cleared,
# or its commits would wait for one (the nodes would report it in STATUS).
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgs/data" promote -w -t 60 >/dev/null
psql_at "$pgs" "$pgsport" postgres "ALTER SYSTEM RESET synchronous_standby_names"
psql_at "$pgs" "$pgsport" postgres "SELECT pg_reload_conf()" >/dev/null
promoted_at="$(date +%s%N)"
echo "  standby1 promoted $(( (promoted_at - killed_at) / 1000000 )) ms after the kill; in recovery: $(psql_at "$pgs" "$pgsport" postgres "SELECT pg_is_in_recovery()")"
for _ in $(seq 300); do
    asked="$(ask_pension)"
    [ "$(tail -n1 <<<"$asked")" = 200 ] && break; sleep 0.1
done
[ "$(tail -n1 <<<"$asked")" = 200 ] || fail "CITY01 asks PENSION01 after the promotion: $asked"
echo "  CITY01 asks PENSION01 again: answered \"$(sed '$d' <<<"$asked" | jq -r .answer)\" $(( ($(date +%s%N) - promoted_at) / 1000000 )) ms after the promotion"
answered_after="$(psql_at "$pgs" "$pgsport" linkcore "SELECT count(*) FROM access_log WHERE outcome = 1")"
[ "$answered_after" -gt "$answered_before" ] || fail "the promoted server has $answered_after answered entries, had $answered_before"
echo "  answered mediations on the promoted server: $answered_after (the $answered_before from before the kill, and the new one)"
for _ in $(seq 100); do n1_since | grep -q 'store ready again' && break; sleep 0.1; done
n1_since | grep -q 'store ready again' || fail "n1 does not report ready after the promotion"
echo "  n1 ready again, on $(n1_since | grep -o 'server=[^ ]*' | tail -n1)"
"$bin/linkctl" audit verify --socket "$run/n1/admin.sock" | sed 's/^/  /'
bold "cluster scenario complete"
