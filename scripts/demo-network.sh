# The demo network's common steps, sourced by scripts/run.sh (one core on SQLite) and
# scripts/cluster-demo.sh (three nodes on PostgreSQL), so that both start the same organisations,
# PKI, registry, matcher and adapters. Not run on its own. The caller sets:
#   run  the state directory (./run, ./run-cluster)     bin  the build's binaries
#   etc  etc/linkcore of the checkout
# Children started with demo_spawn are stopped in reverse order of start by demo_stop (on Ctrl-C,
# TERM and exit, once demo_traps has run).

demo_orgs=(CITY01:agency:public PENSION01:agency:public HEALTH01:agency:public BANK01:private-connector:private
           MATCHER:matcher:public PORTAL:portal:public JPKI:card-authority:public)
# The portal IS the organisation PORTAL (linkcore-portal holds its certificate): no adapter for it.
demo_adapters=(CITY01:8481 PENSION01:8482 HEALTH01:8483 BANK01:8484)

# The development PKI, an organisation certificate each, the master key (each made once).
demo_pki() {
    mkdir -p "$run/logs" && chmod 700 "$run"
    if [ ! -f "$run/pki/ca.pem" ]; then
        echo "== development PKI in $run/pki"
        "$bin/linkctl" pki init --dir "$run/pki" --server-name localhost --server-ip 127.0.0.1
    fi
    # Per organisation, once (a run/ made before JPKI joined gets its certificate now).
    local entry
    for entry in "${demo_orgs[@]}"; do
        [ -f "$run/pki/orgs/${entry%%:*}.pem" ] ||
            "$bin/linkctl" pki issue --dir "$run/pki" --org "${entry%%:*}" --name "Demo ${entry%%:*}" >/dev/null
    done
    [ -f "$run/master.key" ] || "$bin/linkctl" keys master-init --out "$run/master.key" >/dev/null
}

# The matcher's config and its registry: 2,000 generated residents and the scenario's resident.
demo_registry() {
    [ -f "$run/matcher.toml" ] || sed -e "s|@RUN@|$run|g" "$etc/matcher.local.toml" > "$run/matcher.toml"
    if [ ! -f "$run/registry.sqlite" ]; then
        echo "== registry: 2,000 generated residents and the scenario's resident"
        "$bin/linkcore-matcher" registry generate --db "$run/registry.sqlite" --count 2000 --seed 1 >/dev/null
        "$bin/linkcore-matcher" registry import --db "$run/registry.sqlite" --csv "$etc/demo-residents.csv" --strict
    fi
}

demo_pids=()
# demo_spawn LOG COMMAND...: runs COMMAND in the background, output appended to LOG.
demo_spawn() {
    local log="$1"; shift
    "$@" >>"$log" 2>&1 &
    demo_pids+=($!)
}
demo_stop() {
    trap - INT TERM EXIT
    echo "== stopping"
    local i
    for (( i=${#demo_pids[@]}-1; i>=0; i-- )); do
        kill -TERM "${demo_pids[$i]}" 2>/dev/null || true; wait "${demo_pids[$i]}" 2>/dev/null || true
    done
    if declare -F demo_after_stop >/dev/null; then demo_after_stop; fi
    echo "== stopped"
}
demo_traps() {
    trap 'demo_stop; exit 130' INT
    trap 'demo_stop; exit 143' TERM
    trap demo_stop EXIT
}

# demo_wait_socket SOCKET LOG: waits for a core's admin socket; shows the log's tail if it never comes.
demo_wait_socket() {
    local _
    for _ in $(seq 200); do [ -S "$1" ] && return 0; sleep 0.1; done
    tail -20 "$2"; return 1
}

# demo_register_orgs SOCKET: every organisation of the demo, once (a re-run finds them).
demo_register_orgs() {
    local entry code role sector
    for entry in "${demo_orgs[@]}"; do
        IFS=: read -r code role sector <<<"$entry"
        "$bin/linkctl" org show --socket "$1" "$code" >/dev/null 2>&1 ||
            "$bin/linkctl" org add --socket "$1" --code "$code" --name "Demo $code" --sector "$sector" --role "$role" >/dev/null
    done
}

demo_start_matcher() {
    echo "== linkcore-matcher on 127.0.0.1:7500 (log $run/logs/matcher.log)"
    demo_spawn "$run/logs/matcher.log" "$bin/linkcore-matcher" serve --config "$run/matcher.toml"
    local _
    for _ in $(seq 200); do grep -q "listening on" "$run/logs/matcher.log" 2>/dev/null && break; sleep 0.1; done
}

# demo_adapter_config ORG PORT [CORE]: the adapter's directory, config (CORE replaces the
# [core] address value, e.g. a list of nodes) and answers database, each made once.
demo_adapter_config() {
    local org="$1" port="$2" dir="$run/adapters/$1"
    mkdir -p "$dir"
    if [ ! -f "$dir/adapter.toml" ]; then
        sed -e "s|@RUN@|$run|g" -e "s|@ORG@|$org|g" -e "s|@PORT@|$port|g" \
            ${3:+-e "s|^address = \"127.0.0.1:7400\"|address = $3|"} "$etc/adapter.local.toml" > "$dir/adapter.toml"
    fi
    if [ ! -f "$dir/answers.sqlite" ]; then
        # Each organisation's "own system" for the demo: answers by its own person IDs.
        local o person info answer
        while IFS=, read -r o person info answer; do
            if [ "$o" = "$org" ]; then
                "$bin/linkcore-adapter" dataset --db "$dir/answers.sqlite" --person "$person" --info "$info" --answer "$answer"
            fi
        done < "$etc/demo-answers.csv"
        "$bin/linkcore-adapter" dataset --db "$dir/answers.sqlite"   # an organisation with no answers still has the file
    fi
}

# demo_adapter_start ORG PORT [WHERE]: starts the adapter whose config demo_adapter_config made.
demo_adapter_start() {
    echo "== linkcore-adapter $1, local API http://127.0.0.1:$2${3:+, $3} (log $run/logs/adapter-$1.log)"
    demo_spawn "$run/logs/adapter-$1.log" "$bin/linkcore-adapter" run --config "$run/adapters/$1/adapter.toml"
}

# demo_adapter_status ORG: the adapter's /status (JSON), as its own system reads it.
demo_adapter_status() {
    local entry port=""
    for entry in "${demo_adapters[@]}"; do [ "${entry%%:*}" = "$1" ] && port="${entry##*:}"; done
    curl -sf -H "Authorization: Bearer $(cat "$run/adapters/$1/api-token" 2>/dev/null)" "http://127.0.0.1:$port/status" 2>/dev/null
}

# Waits until every adapter says it is connected to a core.
demo_wait_adapters() {
    local entry _
    for entry in "${demo_adapters[@]}"; do
        for _ in $(seq 200); do
            # The token file appears at the adapter's first start (0600, beside its database). /status
            # is pretty-printed JSON ("core_connected" : true), so jq reads it, not a text match.
            demo_adapter_status "${entry%%:*}" | jq -e '.core_connected == true' >/dev/null 2>&1 && break; sleep 0.1
        done
    done
}
