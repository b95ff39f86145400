#!/usr/bin/env bash
# Fuzzes dialclip's readers of untrusted input with libFuzzer + AddressSanitizer.
#
#   Scripts/fuzz.sh                       # every target, 60 s each
#   Scripts/fuzz.sh --time 600 image      # one target for 10 minutes
#   Scripts/fuzz.sh --runs 1000000 --time 1800 safetensors   # 1M executions or 30 min
#   Scripts/fuzz.sh --list
#
# Targets (Fuzz/Sources/fuzz-<target>): safetensors, image, clip-bpe, wordpiece, dialogues, captions.
# Seeds: Fuzz/corpus/<target>/ (committed, small). The growing corpus lives in
# .build/fuzz/corpus/<target>/, crashes/timeouts/OOMs in .build/fuzz/artifacts/<target>/,
# logs in .build/fuzz/logs/. Each run is niced (the machine is shared) and OpenBLAS is kept
# single-threaded (its idle threads otherwise spin in sched_yield and starve a niced fuzzer).
# Exit status: 0 when no target found anything, 1 otherwise; a summary table is printed last.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ALL_TARGETS=(safetensors image clip-bpe wordpiece dialogues captions)
SECONDS_PER_TARGET=60
RUNS=""
NICE="${DIALCLIP_FUZZ_NICE:-19}"
targets=()

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --time) SECONDS_PER_TARGET="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --list) printf '%s\n' "${ALL_TARGETS[@]}"; exit 0 ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "fuzz: unknown option $1" >&2; usage >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -eq 0 ] && targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
    [ -d "$ROOT/Fuzz/Sources/fuzz-$t" ] || { echo "fuzz: unknown target '$t' (try --list)" >&2; exit 2; }
done

SANITIZE=(-c release -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address)
OUT="$ROOT/.build/fuzz"
mkdir -p "$OUT/logs"
cd "$ROOT/Fuzz"
for t in "${targets[@]}"; do
    echo "fuzz: building fuzz-$t (libFuzzer + ASan)" >&2
    nice -n "$NICE" swift build "${SANITIZE[@]}" --product "fuzz-$t" >&2
done
BIN="$(swift build "${SANITIZE[@]}" --show-bin-path)"

export OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=0}"
status=0
summary=()
for t in "${targets[@]}"; do
    corpus="$OUT/corpus/$t"; artifacts="$OUT/artifacts/$t/"; log="$OUT/logs/$t.log"
    mkdir -p "$corpus" "$artifacts"
    stamp="$(mktemp)"   # only artifacts written by this run count as findings
    limit=(-max_total_time="$SECONDS_PER_TARGET")
    [ -n "$RUNS" ] && limit+=(-runs="$RUNS")
    echo "fuzz: running $t (${RUNS:+$RUNS runs or }$SECONDS_PER_TARGET s); log $log" >&2
    set +e
    # -timeout: one input taking > 10 s is a hang; -rss_limit_mb / -malloc_limit_mb: memory
    # growth or a single huge allocation (a 10^12-element "tensor") is a finding too.
    nice -n "$NICE" "$BIN/fuzz-$t" "$corpus" "$ROOT/Fuzz/corpus/$t" "${limit[@]}" \
        -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$artifacts" > "$log" 2>&1
    rc=$?
    set -e
    runs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)"
    secs="$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | grep -Eo 'in [0-9]+' | grep -Eo '[0-9]+' | tail -1)"
    cov="$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+')"
    found="$(find "$artifacts" -type f -newer "$stamp" | wc -l)"
    rm -f "$stamp"
    verdict=ok
    if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then verdict="FOUND ($found file(s) in $artifacts, exit $rc)"; status=1; fi
    summary+=("$(printf '%-12s %12s %8s %8s  %s' "$t" "${runs:-?}" "${secs:-?}" "${cov:-?}" "$verdict")")
done
# Scratch folders of fuzzers that died without cleaning up; a folder whose process still
# runs belongs to another fuzz.sh (wiping it once stopped a parallel 30-minute run).
for d in /dev/shm/dialclip-fuzz-*; do
    [ -d "$d" ] || continue
    kill -0 "${d##*-}" 2>/dev/null || rm -rf "$d"
done
printf '%-12s %12s %8s %8s  %s\n' target executions seconds coverage result
printf '%s\n' "${summary[@]}"
exit $status
