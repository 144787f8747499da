#!/usr/bin/env bash
# The whole test suite under a sanitizer (issue 17, item 2; docs/reliability.md, "Sanitizers").
#   usage: sanitizers.sh thread|address [--skip-build] [-- ARGS for swift test, e.g. --filter X]
# Builds into a scratch path of its own (.build-tsan / .build-asan: the normal .build is not
# touched), runs `swift test` from it, and prints a summary: tests passed/failed, the reports
# found by kind, and for each distinct report the frames in our code (file:line).
# The test process runs the products next to its own binary (/proc/self/exe), i.e. the sanitized
# ones; the report directory goes to every child through TSAN_OPTIONS / ASAN_OPTIONS, which
# LinkcoreTestSupport's SanitizerEnvironment copies into each child's own environment.
# Exits 0 when the tests passed and no report was found, 1 otherwise.
# LEAKS=1 also runs LeakSanitizer under address (off by default: see docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

kind="${1:-}"; shift || true
case "$kind" in
    thread) scratch=.build-tsan; prefix=tsan ;;
    address) scratch=.build-asan; prefix=asan ;;
    *) sed -n '2,11p' "$0"; exit 64 ;;
esac
build=1; test_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --skip-build) build=0 ;;
        --) shift; test_args=("$@"); break ;;
        *) echo "unknown argument $1" >&2; exit 64 ;;
    esac
    shift
done

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
reports="$repo/$scratch/sanitizer-reports/$stamp"
mkdir -p "$reports"
# The daemons run under an unprivileged uid when the tests run as root (ServiceAccount): they
# must be able to write their reports here.
chmod 1777 "$reports"

if [ "$build" = 1 ]; then
    echo "== build (--sanitize=$kind, $scratch)"
    t0=$(date +%s)
    swift build --build-tests --sanitize="$kind" --scratch-path "$scratch"
    echo "build: $(( $(date +%s) - t0 )) s"
fi

# exitcode=0 / a report does not change an exit status: the tests judge behaviour, this script
# judges the reports (a sanitizer report fails the run below). An ASan error still aborts the
# process (abort_on_error), as a crash should.
case "$kind" in
    thread)
        export TSAN_OPTIONS="log_path=$reports/tsan exitcode=0 halt_on_error=0 second_deadlock_stack=1 suppressions=$repo/scripts/tsan.supp" ;;
    address)
        export ASAN_OPTIONS="log_path=$reports/asan abort_on_error=1 detect_leaks=${LEAKS:-0} detect_stack_use_after_return=0 suppressions=$repo/scripts/asan.supp"
        export LSAN_OPTIONS="suppressions=$repo/scripts/lsan.supp" ;;
esac

echo "== tests (--sanitize=$kind), reports in $reports"
t0=$(date +%s)
set +e
swift test --skip-build --sanitize="$kind" --scratch-path "$scratch" "${test_args[@]}" 2>&1 | tee "$reports/test.log"
status=${PIPESTATUS[0]}
set -e
seconds=$(( $(date +%s) - t0 ))

python3 - "$reports" "$repo" "$status" "$seconds" <<'PY'
import collections, glob, os, re, sys
reports, repo, status, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
log = open(os.path.join(reports, "test.log"), errors="replace").read()

print(f"\n== summary: swift test exit {status}, {seconds} s")
for pattern in (r"Test run with \d+ tests?.*", r"Executed \d+ tests?, with \d+ failures?.*"):
    for line in re.findall(pattern, log)[-1:]:
        print("  " + line.strip())
failed = sorted(set(re.findall(r'Test (\S+\(\)) .*failed', log)))
if failed:
    print(f"  failed tests ({len(failed)}): " + ", ".join(failed[:40]))

# A report starts at "WARNING: ThreadSanitizer: KIND" / "ERROR: AddressSanitizer: KIND" and ends
# at its SUMMARY line. Our frames are those in Sources/ or Tests/ of this repository.
ours = re.compile(r"#\d+ (\S+) (" + re.escape(repo) + r"/(?:Sources|Tests)/[^\s:]+:\d+)")
start = re.compile(r"(?:WARNING|ERROR): (?:ThreadSanitizer|AddressSanitizer|LeakSanitizer): ([^\n(]+?)(?: \(pid=\d+\)| on |$)", re.M)
kinds, distinct, files = collections.Counter(), collections.OrderedDict(), 0
for path in sorted(glob.glob(os.path.join(reports, "*san.*"))):
    files += 1
    text = open(path, errors="replace").read()
    starts = list(start.finditer(text))
    for i, m in enumerate(starts):
        body = text[m.start(): starts[i + 1].start() if i + 1 < len(starts) else len(text)]
        kind = m.group(1).strip()
        kinds[kind] += 1
        frames = [loc.replace(repo + "/", "") for _, loc in ours.findall(body)]
        key = (kind, tuple(dict.fromkeys(frames))[:4])
        entry = distinct.setdefault(key, {"count": 0, "example": path})
        entry["count"] += 1
print(f"  report files: {files}; reports: {sum(kinds.values())}")
for kind, n in kinds.most_common():
    print(f"    {n:5d}  {kind}")
ours_count = 0
for (kind, frames), entry in distinct.items():
    where = " <- ".join(frames) if frames else "(no frame in our code)"
    ours_count += bool(frames)
    print(f"  [{entry['count']}x] {kind}: {where}\n        e.g. {os.path.relpath(entry['example'], repo)}")
print(f"  distinct reports: {len(distinct)} ({ours_count} with frames in our code)")
sys.exit(0 if status == 0 and not kinds else 1)
PY
