#!/usr/bin/env bash
# Regenerates the seed corpora made from the protocol (frames, policy decisions), the shipped
# configurations and the demo data. The other seeds (JSON bodies, forms, link codes, OCSP requests
# made with `openssl ocsp`, crashes turned regressions) are committed as they are. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")"
root=../..
enc() { protoc -I"$root/Protos" --encode="linkcore.v1.$1" "$root"/Protos/linkcore/v1/*.proto; }
# A frame seed: one byte choosing the read size (FuzzFrames), then 4-byte big-endian length + envelope.
frame() {  # name, read-size byte (octal), text-format envelope
    local bytes; bytes=$(mktemp)
    printf '%s' "$3" | enc Envelope > "$bytes"
    local n; n=$(stat -c %s "$bytes")
    { printf "\\$2"; printf "\\$(printf %03o $((n >> 24 & 255)))\\$(printf %03o $((n >> 16 & 255)))\\$(printf %03o $((n >> 8 & 255)))\\$(printf %03o $((n & 255)))"; cat "$bytes"; } \
        > "corpus/FuzzFrames/$1"
    rm -f "$bytes"
}
mkdir -p corpus/FuzzFrames corpus/FuzzPolicyDecision corpus/FuzzConfig corpus/FuzzRegistryCSV
frame hello 077 'id: 1 hello { min_version: 1 max_version: 1 software: "acme/1.0" org_code: "CITY01" accepts_pushes: true }'
frame ping 003 'id: 2 ping {}'
frame mediate 010 'id: 7 mediate { bp_id: "BP-0001" provider_org: "PENSION01" link_code: "ABCDE-FGHIJ" info_type: "pension.amount" query: "\001\002" deadline_ms: 5000 idempotency_key: "k-1" }'
frame error 001 'id: 9 error { code: 3 message: "bad" retryable: true retry_after_ms: 100 provider_code: "X1" }'
frame match 020 'id: 11 match_request { consent_ref: "C-1" my_number: "123456789018" }'
# Two frames in one read.
cat corpus/FuzzFrames/ping <(tail -c +2 corpus/FuzzFrames/mediate) > corpus/FuzzFrames/two-frames

# Policy decisions: one byte for the kind (0 whitelist, 1 fees, 2 events), then the module's bytes.
{ printf '\000'; printf 'permitted: true rule_id: "W-001"' | enc WhitelistDecision; } > corpus/FuzzPolicyDecision/whitelist-permit
{ printf '\000'; printf 'reason: "no row"' | enc WhitelistDecision; } > corpus/FuzzPolicyDecision/whitelist-refuse
{ printf '\001'; printf 'chargeable: true amount_yen: 10 tariff_id: "T-1"' | enc FeeDecision; } > corpus/FuzzPolicyDecision/fee
{ printf '\002'; printf 'delivery: 1 reveal_kind: true' | enc EventRoutingDecision; } > corpus/FuzzPolicyDecision/route

# Configurations: the shipped ones and the policy tables.
for f in "$root"/etc/linkcore/*.toml; do cp "$f" "corpus/FuzzConfig/$(basename "$f")"; done
# Registry rows: the header and the first rows of the demo registry.
head -c 2000 "$root/etc/linkcore/demo-residents.csv" > corpus/FuzzRegistryCSV/demo-residents-head.csv
