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
# The fuzz smoke (every parser's libFuzzer target on a bounded number of inputs) is opt-in for
# now, FUZZ_SMOKE=1: its cold sanitizer build alone exceeds the test command's budget on a
# 2-core machine (docs/reliability.md, "Fuzzing"). scripts/fuzz.sh runs it, or the campaign.
if [ "${FUZZ_SMOKE:-0}" = 1 ]; then
    echo "== fuzz smoke (docs/reliability.md)"
    ./scripts/fuzz.sh --smoke
fi
echo "== the units under a real systemd (VM)"
./scripts/systemd-vm-test.sh
echo "== done in $(( $(date +%s) - start )) s"
