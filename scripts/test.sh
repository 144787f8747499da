#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine with Swift 6.3: installs what is missing,
# builds, checks the systemd units, runs every test, then installs the units per README.md into a
# Debian VM with systemd as PID 1 and checks them there (scripts/systemd-vm-test.sh: about 3
# minutes with its cached image, 10 more the first time on a machine, to build that image).
# CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
./scripts/deps.sh
echo "== layers (docs/architecture.md)"
python3 scripts/check-layers.py
echo "== build"
swift build --build-tests
echo "== systemd units"
./scripts/check-units.sh
echo "== tests"
swift test --skip-build
echo "== fuzz smoke: every parser's libFuzzer target on a bounded number of inputs (docs/reliability.md)"
# FUZZ_SMOKE=0 skips it (its first, cold sanitizer build is long: docs/reliability.md, "Fuzzing").
[ "${FUZZ_SMOKE:-1}" = 0 ] || ./scripts/fuzz.sh --smoke
echo "== the units under a real systemd (VM)"
./scripts/systemd-vm-test.sh
echo "== done in $(( $(date +%s) - start )) s"
