#!/usr/bin/env bash
# Fault injection for the gallery index, against the real binary:
#   1. SIGKILL at random points, N runs (default 50): after each kill PRAGMA integrity_check
#      is ok and every entry committed before the kill (read from the database by a second
#      process just before killing) is still there with its embedding; a final run recovers
#      and equals a clean index.
#   2. Disk full (a tiny tmpfs when we may mount, else `ulimit -f`): index fails with a
#      message, the database stays consistent, and after space is freed a rerun completes.
#   3. Read-only database (another user when root, else chmod): refused with a message, the
#      file is unchanged, a later writable run completes.
#   4. Database replaced by garbage / truncated: refused naming the file, never overwritten;
#      after removal a rerun rebuilds. Garbage -wal beside a good database: harmless.
#
#   Scripts/fault-injection.sh [--runs N] [--binary PATH] [--model DIR]
# DIALCLIP_FAULTS_NO_MOUNT=1 uses `ulimit -f` for the disk-full case even as root.
# Needs python3 (sqlite3 module) and the tiny CLIP fixture ../shared/model/tiny-clip-hf.
set -uo pipefail   # no -e: the point is to look at failing commands
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS=50
BIN="$ROOT/.build/release/dialclip"
MODEL="${DIALCLIP_SHARED:-$ROOT/../shared}/model/tiny-clip-hf"
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS="$2"; shift 2 ;;
        --binary) BIN="$2"; shift 2 ;;
        --model) MODEL="$2"; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "fault-injection: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ ! -x "$BIN" ]; then
    echo "fault-injection: building dialclip (release)" >&2
    (cd "$ROOT" && swift build -c release >&2) || exit 1
fi
BIN="$(realpath "$BIN")"; MODEL="$(realpath "$MODEL")"
W="$(mktemp -d /tmp/dialclip-faults.XXXXXX)"
MNT=""
cleanup() { [ -n "$MNT" ] && umount "$MNT" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
chmod 755 "$W"
failures=0
pass() { printf 'ok    %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; failures=$((failures + 1)); }

# A gallery of 4 × 254 photos (different paths, same pictures) so a run lasts long enough
# to be killed in the middle.
G="$W/gallery"
for d in a b c d; do mkdir -p "$G/$d"; cp "$ROOT"/assets/gallery/photos/* "$G/$d/"; done
chmod -R a+rX "$G"
NPHOTOS="$(find "$G" -type f | wc -l)"
index() { "$BIN" index "$G" --db "$1" --model "$MODEL" --json; }

# python helper: integrity, committed image paths with an embedding
cat > "$W/db.py" <<'PY'
import sqlite3, sys, json
mode, path = sys.argv[1], sys.argv[2]
con = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30)
if mode == "integrity":
    print(";".join(r[0] for r in con.execute("PRAGMA integrity_check")))
elif mode == "paths":
    for (p,) in con.execute("SELECT i.path FROM item i JOIN embedding e ON e.item_id = i.id WHERE i.kind = 'image' ORDER BY i.path"):
        print(p)
PY
integrity() { python3 "$W/db.py" integrity "$1" 2>&1; }
paths() { python3 "$W/db.py" paths "$1"; }

t0=$(date +%s.%N)
index "$W/clean.sqlite" > /dev/null
t1=$(date +%s.%N)
paths "$W/clean.sqlite" > "$W/clean.paths"
FULL_MS=$(python3 -c "print(max(200, int(($t1 - $t0) * 1000)))")
[ "$(wc -l < "$W/clean.paths")" -eq "$NPHOTOS" ] && pass "clean index: $NPHOTOS photos in ${FULL_MS} ms" || fail "clean index has $(wc -l < "$W/clean.paths") of $NPHOTOS photos"

# 1. SIGKILL ----------------------------------------------------------------------------
mid=0; lost=0; bad=0
DB="$W/kill.sqlite"
for run in $(seq 1 "$RUNS"); do
    # odd runs start from an empty database, even runs resume the one just killed
    if [ $((run % 2)) -eq 1 ]; then rm -f "$DB" "$DB"-wal "$DB"-shm "$DB".lock; fi
    done_n=0; [ -f "$DB" ] && done_n="$(paths "$DB" 2>/dev/null | wc -l)"
    index "$DB" > /dev/null 2>&1 &
    pid=$!
    # kill somewhere in the expected remaining time (start-up included)
    delay=$(python3 -c "import random; print(random.uniform(0.05, 0.3 + $FULL_MS / 1000 * (1 - $done_n / $NPHOTOS)))")
    sleep "$delay"
    before=""
    [ -f "$DB" ] && before="$(paths "$DB" 2>/dev/null || true)"
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null && mid=$((mid + 1)); fi
    wait "$pid" 2>/dev/null || true
    [ -f "$DB" ] || continue
    ic="$(integrity "$DB")"
    [ "$ic" = "ok" ] || { bad=$((bad + 1)); fail "run $run: integrity_check: $ic"; }
    after="$(paths "$DB")"
    missing="$(comm -23 <(printf '%s\n' "$before" | sed '/^$/d' | sort) <(printf '%s\n' "$after" | sort) | wc -l)"
    [ "$missing" -eq 0 ] || { lost=$((lost + missing)); fail "run $run: $missing committed entries lost"; }
done
out="$(index "$DB" 2>&1)" || fail "index after the kills failed: $out"
if [ "$(integrity "$DB")" = ok ] && diff -q <(paths "$DB") "$W/clean.paths" > /dev/null; then
    pass "SIGKILL: $RUNS runs ($mid killed mid-run), integrity ok after each, 0 committed entries lost, resumed index = clean index"
else
    fail "SIGKILL: resumed index differs from the clean one or is damaged"
fi
[ "$lost" -eq 0 ] && [ "$bad" -eq 0 ] || true

# 2. Disk full ----------------------------------------------------------------------------
CLEAN_KB=$(( ($(stat -c %s "$W/clean.sqlite") + 1023) / 1024 ))
HALF_KB=$(( CLEAN_KB / 2 ))
mkdir -p "$W/full"
if [ -z "${DIALCLIP_FAULTS_NO_MOUNT:-}" ] && [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=${HALF_KB}k tmpfs "$W/full" 2>/dev/null; then
    MNT="$W/full"; how="tmpfs of ${HALF_KB} KB"
    out="$(index "$W/full/db.sqlite" 2>&1)"; rc=$?
else
    how="ulimit -f ${HALF_KB}"
    out="$(ulimit -f "$HALF_KB"; index "$W/full/db.sqlite" 2>&1)"; rc=$?
fi
msg="$(printf '%s\n' "$out" | grep -m1 '^Error:' || true)"
if [ "$rc" -eq 1 ] && [ -n "$msg" ]; then pass "disk full ($how): exit 1, \"$msg\""; else fail "disk full ($how): exit $rc, output: $(printf '%s' "$out" | head -c 300)"; fi
ic="$(integrity "$W/full/db.sqlite")"; [ "$ic" = ok ] && pass "disk full: integrity_check ok, $(paths "$W/full/db.sqlite" | wc -l) photos committed before the disk filled" || fail "disk full: integrity_check: $ic"
if [ -n "$MNT" ]; then mount -o remount,size=256m "$MNT"; fi
out="$(index "$W/full/db.sqlite" 2>&1)" && [ "$(integrity "$W/full/db.sqlite")" = ok ] && diff -q <(paths "$W/full/db.sqlite") "$W/clean.paths" > /dev/null \
    && pass "disk full: after freeing space the rerun completes and equals the clean index" || fail "disk full: rerun: $out"
if [ -n "$MNT" ]; then umount "$MNT"; MNT=""; fi

# 3. Read-only database -----------------------------------------------------------------
RO="$W/ro"; mkdir -p "$RO"; chmod 755 "$RO"
cp "$W/clean.sqlite" "$RO/db.sqlite"; chmod 644 "$RO/db.sqlite"
mkdir -p "$G/e"; cp "$ROOT/assets/gallery/photos/gcompris-hammer8.jpg" "$G/e/new.jpg"; chmod -R a+rX "$G"
sum="$(sha256sum < "$RO/db.sqlite")"
if [ "$(id -u)" -eq 0 ] && command -v setpriv > /dev/null; then
    how="another user"; out="$(setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN" index "$G" --db "$RO/db.sqlite" --model "$MODEL" --json 2>&1)"; rc=$?
else
    how="chmod a-w"; chmod a-w "$RO" "$RO/db.sqlite"
    out="$(index "$RO/db.sqlite" 2>&1)"; rc=$?
    chmod u+w "$RO" "$RO/db.sqlite"
fi
msg="$(printf '%s\n' "$out" | grep -m1 '^Error:' || true)"
[ "$rc" -eq 1 ] && [ -n "$msg" ] && [ "$(sha256sum < "$RO/db.sqlite")" = "$sum" ] \
    && pass "read-only database ($how): exit 1, \"$msg\", file unchanged" || fail "read-only database ($how): exit $rc, $out"
out="$(index "$RO/db.sqlite" 2>&1)" && [ "$(integrity "$RO/db.sqlite")" = ok ] && [ "$(paths "$RO/db.sqlite" | wc -l)" -eq $((NPHOTOS + 1)) ] \
    && pass "read-only database: once writable, the rerun adds the new photo and keeps all $NPHOTOS others" || fail "read-only rerun: $out"
rm -rf "$G/e"

# 4. Garbage ------------------------------------------------------------------------------
GB="$W/garbage.sqlite"; head -c "$(stat -c %s "$W/clean.sqlite")" /dev/urandom > "$GB"; sum="$(sha256sum < "$GB")"
out="$(index "$GB" 2>&1)"; rc=$?
msg="$(printf '%s\n' "$out" | grep -m1 '^Error:' || true)"
[ "$rc" -eq 1 ] && [[ "$msg" == *"not a dialclip index"* ]] && [ "$(sha256sum < "$GB")" = "$sum" ] \
    && pass "database replaced by garbage: exit 1, \"$msg\", file not overwritten" || fail "garbage database: exit $rc, $out"
rm -f "$GB"; out="$(index "$GB" 2>&1)" && diff -q <(paths "$GB") "$W/clean.paths" > /dev/null && pass "garbage database: after removal the index is rebuilt" || fail "garbage rebuild: $out"
TR="$W/trunc.sqlite"; cp "$W/clean.sqlite" "$TR"; truncate -s $(( $(stat -c %s "$TR") / 2 )) "$TR"; sum="$(sha256sum < "$TR")"
out="$(index "$TR" 2>&1)"; rc=$?
msg="$(printf '%s\n' "$out" | grep -m1 '^Error:' || true)"
[ "$rc" -eq 1 ] && [ -n "$msg" ] && [ "$(sha256sum < "$TR")" = "$sum" ] && pass "database truncated to half: exit 1, \"$msg\", file not overwritten" || fail "truncated database: exit $rc, $out"
WL="$W/wal.sqlite"; cp "$W/clean.sqlite" "$WL"; head -c 100000 /dev/urandom > "$WL-wal"
out="$(index "$WL" 2>&1)" && [ "$(integrity "$WL")" = ok ] && diff -q <(paths "$WL") "$W/clean.paths" > /dev/null \
    && pass "garbage -wal beside a good database: ignored by SQLite, index intact" || fail "garbage wal: $out"

echo "fault-injection: $failures failure(s)"
[ "$failures" -eq 0 ]
