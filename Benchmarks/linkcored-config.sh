# Sourced by run-transport.sh and run-flood.sh: one place for the minimal linkcored configuration
# a benchmark run starts the core with (so both measure the same defaults).
bench_linkcored_config() { # dir port pki-dir core-id: writes dir/linkcored.toml, dir/master.key, dir/state
    local dir=$1 port=$2 pki=$3 id=$4
    mkdir -p "$dir/state"
    (umask 077 && head -c 32 /dev/urandom >"$dir/master.key")
    cat >"$dir/linkcored.toml" <<TOML
[core]
id = "$id"
state_directory = "$dir/state"
[listen]
addresses = ["127.0.0.1:$port"]
admin_socket = "$dir/admin.sock"
[tls]
certificate = "$pki/server.pem"
private_key = "$pki/server.key"
ca_bundle = "$pki/ca.pem"
crl = "$pki/crl.pem"
[log]
level = "warning"
[keys]
master_secret = "$dir/master.key"
TOML
}
