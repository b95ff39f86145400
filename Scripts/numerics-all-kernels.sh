#!/usr/bin/env bash
# Runs the numerics tests (swift test --filter 'TensorTests|ModelsTests') once per OpenBLAS
# kernel this CPU supports — Prescott always, Haswell with avx2+fma, SkylakeX with
# avx512f+avx512bw+avx512vl — and prints a pass/fail table. The kernel is fixed when OpenBLAS
# loads, so each kernel needs its own test process. Not part of CI (about 3 test runs).
#   Scripts/numerics-all-kernels.sh [extra swift test args...]
# Environment: DIALCLIP_NUMERICS_FILTER overrides the --filter expression.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
FILTER="${DIALCLIP_NUMERICS_FILTER:-TensorTests|ModelsTests}"
LOGDIR=".build/numerics-logs"

mapfile -t KERNELS < <(bash Scripts/openblas-coretype.sh --supported)
echo "numerics: kernels for this CPU: ${KERNELS[*]}; filter '$FILTER'"
bash Scripts/setup.sh </dev/null || { echo "numerics: Scripts/setup.sh failed" >&2; exit 1; }
echo "numerics: swift build --build-tests"
swift build --build-tests || { echo "numerics: build failed" >&2; exit 1; }
mkdir -p "$LOGDIR"

declare -a ROWS=()
fails=0
for k in "${KERNELS[@]}"; do
    log="$LOGDIR/$k.log"
    echo "numerics: OPENBLAS_CORETYPE=$k swift test --skip-build --filter '$FILTER' (log: $log)"
    t=$(date +%s)
    # OPENBLAS_VERBOSE=2 makes OpenBLAS print the core it actually loaded ("Core: SkylakeX").
    OPENBLAS_CORETYPE="$k" OPENBLAS_VERBOSE=2 swift test --skip-build --filter "$FILTER" "$@" \
        </dev/null >"$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - t ))
    loaded="$(grep -m1 -oE 'Core: [A-Za-z0-9]+' "$log" | cut -d' ' -f2 || true)"
    summary="$(grep -E 'Executed [0-9]+ tests?, with' "$log" | tail -1 | sed -E 's/^[[:space:]]+//; s/ \(.*//' || true)"
    if [ "$rc" -eq 0 ]; then result=PASS; else result=FAIL; fails=$((fails + 1)); fi
    if [ -n "$loaded" ] && [ "$loaded" != "$k" ]; then
        result="$result (loaded $loaded!)"; fails=$((fails + 1))
    fi
    ROWS+=("$(printf '%-10s %-22s %-10s %5ss  %s' "$k" "$result" "${loaded:-?}" "$secs" "${summary:-no XCTest summary (exit $rc)}")")
done

echo
printf '%-10s %-22s %-10s %6s  %s\n' kernel result "loaded" time "tests"
for r in "${ROWS[@]}"; do echo "$r"; done
if [ "$fails" -eq 0 ]; then echo "numerics: all kernels pass"; else echo "numerics: $fails kernel run(s) failed; logs in $LOGDIR"; fi
[ "$fails" -eq 0 ]
