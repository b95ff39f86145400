#!/usr/bin/env bash
# The whole test run (what CI runs through .ci/run):
#   1. Scripts/setup.sh (Debian packages, verified MiniLM model; a fast no-op when all is there)
#   2. swift build --build-tests (debug)
#   3. swift test (XCTest + Swift Testing, debug build)
#   4. the Python tests of Scripts/ (system python3); the checkpoint-converter and reference-bench
#      tests only when the reference venv (Scripts/make-reference-env.sh) exists — it is never
#      created here (1 GB of torch would make CI slow).
# Ends with a summary; the last line reads 'tests: N passed, N failed, N skipped'.
#
# OPENBLAS_CORETYPE is set from /proc/cpuinfo unless already set: the tests run in-process, so
# they cannot re-exec themselves with the right kernel the way the dialclip executable does.
# Environment: DIALCLIP_TEST_PARALLEL=1 (swift test --parallel), DIALCLIP_REFENV,
# DIALCLIP_TEST_TIMEOUT (seconds for swift test, default 2400), DIALCLIP_BUILD_TIMEOUT (3600).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT="$(pwd)"
T0=$(date +%s)
LOGDIR="$ROOT/.build/dialclip-test-logs"
REFENV="${DIALCLIP_REFENV:-${XDG_CACHE_HOME:-$HOME/.cache}/dialclip/refenv}"

declare -a SUMMARY=()
add() { SUMMARY+=("$(printf ' %-18s %-8s %5ss  %s' "$1" "$2" "$3" "${4:-}")"); }
PASSED=0 FAILED=0 SKIPPED=0 STATUS=0

finish() {
    echo
    echo "==================== dialclip test summary ===================="
    echo " OPENBLAS_CORETYPE  ${OPENBLAS_CORETYPE:-<unset: OpenBLAS chooses>} ($KERNEL_SOURCE)"
    local line
    for line in "${SUMMARY[@]}"; do echo "$line"; done
    echo " total              $(( $(date +%s) - T0 ))s; logs in ${LOGDIR#"$ROOT"/}"
    if [ "$STATUS" -eq 0 ]; then echo "RESULT: all steps passed"; else echo "RESULT: FAILED (see the steps above)"; fi
    echo "tests: $PASSED passed, $FAILED failed, $SKIPPED skipped"
    exit "$STATUS"
}

step() { echo; echo "==> $*"; }

# --- OpenBLAS kernel -----------------------------------------------------------------------------
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
    KERNEL_SOURCE="already set in the environment"
else
    k="$(bash Scripts/openblas-coretype.sh 2>/dev/null || true)"
    if [ -n "$k" ]; then
        export OPENBLAS_CORETYPE="$k"
        KERNEL_SOURCE="from /proc/cpuinfo flags"
    else
        KERNEL_SOURCE="no avx2+fma: left to OpenBLAS"
    fi
fi
echo "test.sh: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>} ($KERNEL_SOURCE)"

# --- 1. set-up -----------------------------------------------------------------------------------
step "Scripts/setup.sh"
t=$(date +%s)
if bash Scripts/setup.sh </dev/null; then
    add "setup" ok $(( $(date +%s) - t ))
else
    add "setup" FAILED $(( $(date +%s) - t )) "Scripts/setup.sh failed (message above)"
    STATUS=1; FAILED=$((FAILED + 1)); finish
fi
mkdir -p "$LOGDIR"

# --- 2. build ------------------------------------------------------------------------------------
step "swift build --build-tests (debug)"
t=$(date +%s)
if timeout --kill-after=30 "${DIALCLIP_BUILD_TIMEOUT:-3600}" swift build --build-tests </dev/null 2>&1 \
        | tee "$LOGDIR/swift-build.log"; then
    add "swift build" ok $(( $(date +%s) - t ))
else
    add "swift build" FAILED $(( $(date +%s) - t )) "see $LOGDIR/swift-build.log"
    STATUS=1; FAILED=$((FAILED + 1)); finish
fi

# --- 3. swift test -------------------------------------------------------------------------------
step "swift test"
t=$(date +%s)
parallel=()
[ "${DIALCLIP_TEST_PARALLEL:-0}" = "1" ] && parallel=(--parallel)
timeout --kill-after=30 "${DIALCLIP_TEST_TIMEOUT:-2400}" swift test --skip-build "${parallel[@]}" </dev/null 2>&1 \
    | tee "$LOGDIR/swift-test.log"
rc=${PIPESTATUS[0]}
# XCTest's closing line for 'All tests': "Executed N tests, with [S tests skipped and ]F failures".
x_line="$(grep -E 'Executed [0-9]+ tests?, with' "$LOGDIR/swift-test.log" | tail -1 || true)"
x_run=0 x_fail=0 x_skip=0
if [[ "$x_line" =~ Executed\ ([0-9]+)\ tests?,\ with\ (([0-9]+)\ tests?\ skipped\ and\ )?([0-9]+)\ failures? ]]; then
    x_run=${BASH_REMATCH[1]}; x_skip=${BASH_REMATCH[3]:-0}; x_fail=${BASH_REMATCH[4]}
fi
# Swift Testing's closing line: "Test run with N tests ... passed" / "... failed ... with K issues".
s_line="$(grep -E 'Test run with [0-9]+ tests?' "$LOGDIR/swift-test.log" | tail -1 || true)"
s_run=0 s_fail=0
if [[ "$s_line" =~ Test\ run\ with\ ([0-9]+)\ tests? ]]; then
    s_run=${BASH_REMATCH[1]}
    s_fail=$(grep -E '^✘ Test .* failed after' "$LOGDIR/swift-test.log" | grep -vc '^✘ Test run with' || true)
    [[ "$s_line" == *failed* && "$s_fail" -eq 0 ]] && s_fail=1
fi
PASSED=$((PASSED + x_run - x_fail - x_skip + s_run - s_fail))
FAILED=$((FAILED + x_fail + s_fail))
SKIPPED=$((SKIPPED + x_skip))
detail="XCTest: $x_run run, $x_fail failed, $x_skip skipped; Swift Testing: $s_run run, $s_fail failed"
if [ "$rc" -eq 0 ]; then
    add "swift test" ok $(( $(date +%s) - t )) "$detail"
else
    [ "$rc" -eq 124 ] && detail="TIMED OUT after ${DIALCLIP_TEST_TIMEOUT:-2400}s; $detail"
    [ $((x_fail + s_fail)) -eq 0 ] && FAILED=$((FAILED + 1))   # crashed or timed out: count it
    add "swift test" "FAILED" $(( $(date +%s) - t )) "exit $rc; $detail"
    STATUS=1
fi

# --- 4. Python tests of Scripts/ -----------------------------------------------------------------
py_tests() {  # label python counts-file args...
    local label="$1" py="$2" counts="$3"; shift 3
    local t rc
    t=$(date +%s)
    "$py" Scripts/tests/run_tests.py --label "$label" --counts "$counts" "$@" </dev/null 2>&1 \
        | tee "$LOGDIR/$label.log"
    rc=${PIPESTATUS[0]}
    local p=0 f=0 s=0
    if [ -f "$counts" ]; then
        read -r p f s < <("$py" -c 'import json,sys; c=json.load(open(sys.argv[1])); print(c["passed"], c["failed"], c["skipped"])' "$counts")
    fi
    PASSED=$((PASSED + p)); FAILED=$((FAILED + f)); SKIPPED=$((SKIPPED + s))
    if [ "$rc" -eq 0 ]; then
        add "$label" ok $(( $(date +%s) - t )) "$p passed, $f failed, $s skipped"
    else
        [ "$f" -eq 0 ] && FAILED=$((FAILED + 1))
        add "$label" FAILED $(( $(date +%s) - t )) "exit $rc; $p passed, $f failed, $s skipped"
        STATUS=1
    fi
}

step "Python tests of Scripts/ (python3)"
rm -f "$LOGDIR"/*.counts.json
REFENV_TESTS=(test_convert_checkpoint.py test_reference_bench.py)   # need torch: reference venv only
py_tests "python (scripts)" python3 "$LOGDIR/scripts.counts.json" --exclude "${REFENV_TESTS[@]}"

step "Python tests needing torch: convert_checkpoint.py, reference_bench.py (reference venv)"
if [ -x "$REFENV/bin/python" ] && "$REFENV/bin/python" -c 'import torch, safetensors, onnxruntime' >/dev/null 2>&1; then
    py_tests "python (refenv)" "$REFENV/bin/python" "$LOGDIR/refenv.counts.json" --only "${REFENV_TESTS[@]}"
else
    msg="skipped: reference env absent, run Scripts/make-reference-env.sh"
    echo "$msg"
    add "python (refenv)" skipped 0 "$msg"
fi

finish
