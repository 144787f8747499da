#!/usr/bin/env bash
# Installs the Debian 12 packages linkcore builds, tests and runs with. Idempotent: installs
# only what is missing, so it costs nothing on a prepared machine.
set -euo pipefail

packages=(
    pkg-config gcc make          # C targets, the C SDK and the C benchmark baselines
    libssl-dev openssl           # TLS, link-code crypto, dev PKI (the CLI cross-checks tests)
    libsystemd-dev systemd       # sd_notify, socket activation, journald; systemd-analyze, systemd-socket-activate
    libprotobuf-c-dev            # C peers and C policy modules
    libsqlite3-dev sqlite3       # the embedded store
    postgresql-15                # the PostgreSQL store engine's tests and store-bench: a private server per test process (docs/store.md)
    softhsm2 opensc              # the number card: SoftHSM2 tokens and pkcs11-tool (issue 14)
    libp11-kit-dev               # the PKCS#11 header CPKCS11 compiles against (p11-kit/pkcs11.h)
    curl jq                      # the demo scenario (scripts/run.sh, scripts/onboarding.sh) calls the adapters' local API
    prometheus                   # promtool: the metrics tests check each /metrics scrape with `promtool check metrics`
    python3-cryptography         # scripts/crash_loop.py opens link codes (AES) to check them against the ID table
    chromium chromium-driver python3-selenium  # the card helper's browser test drives headless Chromium (CardHelperBrowserTests)
    fonts-noto-cjk               # Japanese text in the portal's browser-test screenshots (docs/portal/)
    wrk                          # Benchmarks/run-portal.sh: the portal's pages under load
)

# The adapter's fuzzed API test (AdapterSchemathesisTests) runs schemathesis from PyPI against a
# real adapter. Pinned, and installed only when that exact version is not there already.
SCHEMATHESIS_VERSION="4.32.5"
installed="$(python3 -m pip show schemathesis 2>/dev/null | sed -n 's/^Version: //p' || true)"
if [ "$installed" != "$SCHEMATHESIS_VERSION" ]; then
    echo "deps: installing schemathesis ${SCHEMATHESIS_VERSION} (pip)"
    python3 -m pip install --quiet --disable-pip-version-check "schemathesis==${SCHEMATHESIS_VERSION}"
fi

# The portal's OpenID Connect tests (PortalOIDCTests) and the demo relying party
# (scripts/demo-rp/app.py) use authlib (its joserfc comes with it) and Flask from PyPI. Pinned.
AUTHLIB_VERSION="1.9.6"
FLASK_VERSION="3.1.3"
for pin in "authlib==${AUTHLIB_VERSION}" "flask==${FLASK_VERSION}"; do
    name="${pin%%==*}"; want="${pin##*==}"
    have="$(python3 -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p' || true)"
    if [ "$have" != "$want" ]; then
        echo "deps: installing ${pin} (pip)"
        python3 -m pip install --quiet --disable-pip-version-check "$pin"
    fi
done

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#packages[@]} packages present"
    exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
