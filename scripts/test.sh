#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine with Swift 6.3: installs what is missing,
# builds, checks the systemd units and runs every test. CI (.ci/run) calls exactly this.
# The units under a real systemd as PID 1 are checked by scripts/systemd-vm-test.sh, not here:
# from a fresh machine it needs about 12 minutes (7 to build its Debian image, 5 to boot and check).
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
./scripts/deps.sh
echo "== build"
swift build --build-tests
echo "== systemd units"
./scripts/check-units.sh
echo "== tests"
swift test --skip-build
echo "== done in $(( $(date +%s) - start )) s"
