#!/usr/bin/env bash
# Coverage-guided fuzzing of linkcore's parsers with libFuzzer (issue 17, item 1; docs/reliability.md,
# "Fuzzing"). Builds the package Tests/Fuzz with -sanitize=fuzzer,address (its own build directory:
# linkcore's build and `swift test` never see these flags), then runs each target on its committed
# seed corpus (Tests/Fuzz/corpus/<target>) and dictionary.
#
#   scripts/fuzz.sh --smoke [target...]   bounded: SMOKE_RUNS inputs per target (default 1000); in the test command
#   scripts/fuzz.sh --no-build ...        use the fuzzers already built (e.g. while others build)
#   scripts/fuzz.sh [target...]           the campaign: up to FUZZ_RUNS inputs (default 10^7) or FUZZ_SECONDS
#                                         (default 1200) per target, whichever comes first
#
# Prints per target: inputs run, exec/s, coverage (edges, features), corpus size, and crashes, hangs,
# leaks and out-of-memory inputs found. Each finding is kept under $FUZZ_WORK/artifacts (default
# .build-fuzz-work/); reproduce one with `Tests/Fuzz/.build/release/<target> <file>`. New inputs go to
# $FUZZ_WORK/corpus/<target>, never into the committed corpus (add the useful ones by hand).
# Exits 1 when any target found something, 2 when the build failed.
set -uo pipefail
cd "$(dirname "$0")/.."

all=(FuzzFrames FuzzConfig FuzzLinkCode FuzzRegistryCSV FuzzPolicyDecision FuzzAdapterJSON FuzzPortalForms FuzzOCSP)
smoke=0
build=1
targets=()
for arg in "$@"; do
    case "$arg" in
        --smoke) smoke=1 ;;
        --no-build) build=0 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        Fuzz*) targets+=("$arg") ;;
        *) echo "unknown argument $arg (targets: ${all[*]})" >&2; exit 2 ;;
    esac
done
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

declare -A dict=([FuzzConfig]=toml [FuzzAdapterJSON]=json [FuzzPortalForms]=form)
# Inputs above these sizes teach nothing more: configurations and CSV are the largest real inputs.
declare -A maxlen=([FuzzConfig]=16384 [FuzzRegistryCSV]=8192 [FuzzFrames]=8192)

work=${FUZZ_WORK:-$PWD/.build-fuzz-work}
mkdir -p "$work/artifacts"

# Release (-O): unoptimised Swift ran the configuration target at 7 inputs/s here, too slow to fuzz.
[ $build = 1 ] && echo "== fuzz: building Tests/Fuzz (release) with -sanitize=fuzzer,address"
build_start=$(date +%s)
if [ $build = 1 ] && ! swift build --package-path Tests/Fuzz -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library \
        > "$work/build.log" 2>&1; then
    grep -E "error:" "$work/build.log" | head -20 >&2
    echo "fuzz: the build failed; see $work/build.log" >&2
    exit 2
fi
[ $build = 1 ] && echo "   built in $(( $(date +%s) - build_start )) s"
bin=${FUZZ_BIN:-Tests/Fuzz/.build/release}

failed=0
printf '%-20s %10s %8s %8s %8s %7s %7s %6s %6s %5s\n' target inputs exec/s edges features corpus crashes hangs leaks ooms
for t in "${targets[@]}"; do
    corpus="$work/corpus/$t"
    mkdir -p "$corpus"
    rm -f "$work/artifacts/$t-"*
    args=(-print_final_stats=1 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/$t-"
          -max_len="${maxlen[$t]:-4096}")
    [ -n "${dict[$t]:-}" ] && args+=(-dict="Tests/Fuzz/dict/${dict[$t]}.dict")
    if [ $smoke = 1 ]; then
        args+=(-runs="${SMOKE_RUNS:-1000}")
    else
        args+=(-runs="${FUZZ_RUNS:-10000000}" -max_total_time="${FUZZ_SECONDS:-1200}")
    fi
    log="$work/$t.log"
    # The Swift runtime's backtracer would race ASan's report; libFuzzer handles the signals. Shorter
    # allocation stacks and quarantine: Swift allocates often, and these dominate the cost per input.
    env SWIFT_BACKTRACE=enable=no \
        ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:malloc_context_size=8:quarantine_size_mb=64:${ASAN_OPTIONS:-}" \
        "$bin/$t" "${args[@]}" "$corpus" "Tests/Fuzz/corpus/$t" > "$log" 2>&1
    status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E "^#[0-9]+.*cov: " "$log" | tail -1)
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
    count() { find "$work/artifacts" -name "$t-$1-*" | wc -l; }
    crashes=$(count crash); hangs=$(count timeout); leaks=$(count leak); ooms=$(count oom)
    printf '%-20s %10s %8s %8s %8s %7s %7s %6s %6s %5s\n' "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
        "$crashes" "$hangs" "$leaks" "$ooms"
    if [ "$status" != 0 ] || [ $((crashes + hangs + leaks + ooms)) != 0 ]; then
        failed=1
        echo "   $t: exit $status; log $log; findings:" $(ls "$work/artifacts/$t-"* 2>/dev/null) >&2
        grep -m3 -E "ERROR: |Fatal error|SUMMARY" "$log" | sed 's/^/   /' >&2
    fi
done
exit $failed
