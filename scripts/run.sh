#!/usr/bin/env bash
# Starts a demo linkcore network on this machine, from a fresh Debian 12 with Swift 6.3: installs
# packages, builds (release), makes a development PKI and master key with linkctl, and starts
#   linkcored (the core, with the shipped whitelist/fees/events policy modules),
#   linkcore-matcher (a generated registry of 2,000 residents plus the scenario's resident),
#   linkcore-adapter for CITY01, PENSION01, HEALTH01 and BANK01,
#   linkcore-jpki ocsp-serve and serve (the number card authority's OCSP responder and its
#     licensed-verifier service; CA in run/jpki),
#   linkcore-portal, My Portal, as the organisation PORTAL (https://localhost:8443, docs/portal.md),
#   CITY01's child-allowance e-application (scripts/demo-rp, http://127.0.0.1:8490), a relying
#     party of the portal's OpenID Connect provider,
# then runs the scripted scenario (scripts/demo-scenario.sh) and keeps the network up.
# Ctrl-C stops everything in reverse order of start; the core drains last. State is in ./run/
# (delete it to start over); re-running reuses it. CONFIG=debug uses (and builds) debug binaries;
# BUILD=0 skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
config="${CONFIG:-release}"
# BUILD=0 uses the binaries already built for $config (e.g. by `swift build --build-tests`, whose
# debug binaries a per-product build would recompile without testability).
if [ "${BUILD:-1}" = 0 ]; then echo "== no build (BUILD=0): the $config binaries as they are"; else
echo "== build ($config; the first release build takes several minutes)"
for product in linkcored linkctl linkcore-matcher linkcore-adapter linkcore-jpki linkcore-card linkcore-portal; do swift build -c "$config" --product "$product"; done
for module in whitelist fees events; do swift build -c "$config" --product "linkcore-policy-$module"; done
fi
bin="$(swift build -c "$config" --show-bin-path)"
etc="$PWD/etc/linkcore"

# Every port the demo listens on must be free: a process left from another run (with another
# run's CA) would answer in our place and the scenario would fail far from the cause.
busy=""
for port in 7400 7500 7600 8443 8481 8482 8483 8484 8490 8600; do
    holder="$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'users:(([^)]*))' | head -1 || true)"
    if [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]; then busy="$busy\n  127.0.0.1:$port is taken ${holder:-by another process}"; fi
done
if [ -n "$busy" ]; then
    printf "run.sh: the demo's ports must be free; stop what holds them (an earlier run.sh: Ctrl-C it):$busy\n" >&2
    exit 1
fi
run="$PWD/run"
# The organisations, PKI, registry, matcher and adapters, shared with scripts/cluster-demo.sh.
. scripts/demo-network.sh
demo_pki
[ -f "$run/linkcored.toml" ] || sed -e "s|@RUN@|$run|g" -e "s|@BIN@|$bin|g" -e "s|@ETC@|$etc|g" \
    "$etc/linkcored.local.toml" > "$run/linkcored.toml"
# The built-in whitelist is the fallback when no whitelist module is loaded (docs/policy-modules.md).
[ -f "$run/whitelist-builtin.csv" ] || cp "$etc/whitelist-builtin.csv" "$run/"
demo_registry

# The number card (docs/card.md): the card authority's own CA (apart from the network's), its OCSP
# signer and CRL in run/jpki; a SoftHSM2 token directory in run/card for the card the scenario
# issues. SOFTHSM2_CONF is given only to the commands that open tokens (the scenario's), never
# exported. The matcher and BANK01's adapter check card certificates against this CA.
jpki="$run/jpki"
if [ ! -f "$jpki/ca.pem" ]; then
    echo "== card authority in run/jpki (its CA, OCSP signer, CRL) and SoftHSM2 tokens in run/card"
    "$bin/linkcore-jpki" ca-init --dir "$jpki" >/dev/null
fi
# The delegated OCSP signer lives 30 days: a re-run near or after its end certifies a new one.
if [ ! -f "$jpki/ocsp-signer.pem" ] || ! openssl x509 -checkend 86400 -noout -in "$jpki/ocsp-signer.pem" >/dev/null; then
    "$bin/linkcore-jpki" ocsp-signer --dir "$jpki" >/dev/null
fi
# The CRL (the status fallback when the responder is down) says 48 h: published at each start.
"$bin/linkcore-jpki" crl --dir "$jpki" >/dev/null
mkdir -p "$run/card/tokens"
[ -f "$run/card/softhsm2.conf" ] ||
    printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$run/card/tokens" > "$run/card/softhsm2.conf"
# A run/ made before the card existed has a matcher.toml without [card]: the table is added once.
grep -q '^\[card\]' "$run/matcher.toml" || sed -e "s|@RUN@|$run|g" "$etc/matcher-card.local.toml" >> "$run/matcher.toml"

# Children are stopped in reverse order of start and waited for, on Ctrl-C, on TERM and on exit.
demo_traps

echo "== linkcored on 127.0.0.1:7400 (admin socket run/admin.sock, log run/logs/linkcored.log)"
demo_spawn "$run/logs/linkcored.log" "$bin/linkcored" --config "$run/linkcored.toml"
demo_wait_socket "$run/admin.sock" "$run/logs/linkcored.log"
demo_register_orgs "$run/admin.sock"
# The portal is a licensed verifier (JPKI's 利用者証明検証者): the card authority then answers its
# account openings (linked_certificate) and renewals (certificate_history). Idempotent.
"$bin/linkctl" org license --socket "$run/admin.sock" PORTAL >/dev/null

echo "== linkcore-jpki ocsp-serve on 127.0.0.1:8600 (the card authority's OCSP responder; log run/logs/ocsp.log)"
# Its "ocsp HOST:PORT" line says it listens; only this start's part of the log counts.
from=$(( $(stat -c %s "$run/logs/ocsp.log" 2>/dev/null || echo 0) + 1 ))
demo_spawn "$run/logs/ocsp.log" "$bin/linkcore-jpki" ocsp-serve --dir "$jpki" --listen 127.0.0.1:8600
for _ in $(seq 300); do
    tail -c +"$from" "$run/logs/ocsp.log" | grep -q '^ocsp 127.0.0.1:8600$' && break
    kill -0 "${demo_pids[-1]}" 2>/dev/null || break; sleep 0.1
done
tail -c +"$from" "$run/logs/ocsp.log" | grep -q '^ocsp 127.0.0.1:8600$' || { tail -20 "$run/logs/ocsp.log"; exit 1; }

echo "== linkcore-jpki serve on 127.0.0.1:7600 (the card authority's licensed-verifier service; log run/logs/jpki-serve.log)"
demo_spawn "$run/logs/jpki-serve.log" "$bin/linkcore-jpki" serve --dir "$jpki" --listen 127.0.0.1:7600 \
    --tls-cert "$run/pki/server.pem" --tls-key "$run/pki/server.key" \
    --network-ca "$run/pki/ca.pem" --crl "$run/pki/crl.pem" --core 127.0.0.1:7400 \
    --core-cert "$run/pki/orgs/JPKI.pem" --core-key "$run/pki/orgs/JPKI.key"

demo_start_matcher

for entry in "${demo_adapters[@]}"; do
    org="${entry%%:*}"; port="${entry##*:}"
    demo_adapter_config "$org" "$port"
    # BANK01 logs its customers in by card (POST /card/challenge, /card/verify): its [card] table.
    if [ "$org" = BANK01 ] && ! grep -q '^\[card\]' "$run/adapters/$org/adapter.toml"; then
        sed -e "s|@RUN@|$run|g" "$etc/adapter-card.local.toml" >> "$run/adapters/$org/adapter.toml"
    fi
    demo_adapter_start "$org" "$port"
done
demo_wait_adapters

# My Portal: its own SQLite file, the dev PKI's server certificate for HTTPS, the OIDC keys and
# the demo relying party's client secret (made once; the portal keeps only its SHA-256). Hex: authlib
# sends client_secret_basic without percent-encoding, so a base64 "+" would arrive as a space.
mkdir -p "$run/portal" && chmod 700 "$run/portal"
[ -f "$run/portal/oidc-es256.pem" ] || openssl ecparam -name prime256v1 -genkey -noout -out "$run/portal/oidc-es256.pem"
[ -f "$run/portal/oidc-subject.key" ] || openssl rand -out "$run/portal/oidc-subject.key" 32
[ -f "$run/portal/rp-city01.secret" ] || (umask 077; openssl rand -hex 32 > "$run/portal/rp-city01.secret")
chmod 600 "$run/portal/oidc-es256.pem" "$run/portal/oidc-subject.key"
if [ ! -f "$run/portal.toml" ]; then
    secret_sha="$(tr -d '\n' < "$run/portal/rp-city01.secret" | sha256sum | cut -d' ' -f1)"
    sed -e "s|@RUN@|$run|g" -e "s|@RP_SECRET_SHA256@|$secret_sha|g" "$etc/portal.local.toml" > "$run/portal.toml"
fi
echo "== linkcore-portal (My Portal) on https://localhost:8443 (log run/logs/portal.log)"
from=$(( $(stat -c %s "$run/logs/portal.log" 2>/dev/null || echo 0) + 1 ))
demo_spawn "$run/logs/portal.log" "$bin/linkcore-portal" run --config "$run/portal.toml"
for _ in $(seq 300); do
    curl -sf --cacert "$run/pki/ca.pem" https://localhost:8443/health 2>/dev/null | grep -q 'core: connected' && break
    kill -0 "${demo_pids[-1]}" 2>/dev/null || break; sleep 0.1
done
curl -sf --cacert "$run/pki/ca.pem" https://localhost:8443/health 2>/dev/null | grep -q 'core: connected' ||
    { tail -c +"$from" "$run/logs/portal.log" | tail -20; exit 1; }

echo "== CITY01's child-allowance e-application (scripts/demo-rp) on http://127.0.0.1:8490 (log run/logs/demo-rp.log)"
REQUESTS_CA_BUNDLE="$run/pki/ca.pem" demo_spawn "$run/logs/demo-rp.log" python3 scripts/demo-rp/app.py \
    --portal https://localhost:8443 --client-secret-file "$run/portal/rp-city01.secret" --adapter http://127.0.0.1:8481 \
    --adapter-token-file "$run/adapters/CITY01/api-token" --listen 8490 \
    --bp-id BP-CHILD-REARING-ALLOWANCE --info-type PENSION-BENEFIT
for _ in $(seq 300); do curl -sf http://127.0.0.1:8490/ >/dev/null 2>&1 && break; sleep 0.1; done

echo "== scenario"
./scripts/demo-scenario.sh "$run" "$bin"
echo
"$bin/linkctl" status --socket "$run/admin.sock" | head -20
echo "== My Portal:            https://localhost:8443/   (trust $run/pki/ca.pem; log in with the card:"
echo "     SOFTHSM2_CONF=$run/card/softhsm2.conf $bin/linkcore-card helper --card CARD-90000000001 --allow-origin https://localhost:8443=PORTAL"
echo "     then open https://localhost:8443/login; user PIN 0612, signature PIN ichiro1958)"
echo "== CITY01 e-application:  http://127.0.0.1:8490/   (signs in through My Portal, then asks PENSION01)"
echo "== the network is running; Ctrl-C to stop it. Try: curl -s -H \"Authorization: Bearer \$(cat $run/adapters/CITY01/api-token)\" http://127.0.0.1:8481/openapi.json | jq .paths"
wait "${demo_pids[0]}"
