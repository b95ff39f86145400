#!/usr/bin/env bash
# Runs the real dialclip binary on every kind of bad input of docs/robustness.md and prints
# one markdown table row per case: what was given, the exit status, and what dialclip said
# (the "Error:" line, or the per-file problem / warning from `index --json`). Used to
# (re)write the table; the assertions live in Tests/CLITests/BadInputTests.swift.
#
#   Scripts/bad-inputs.sh [DIALCLIP_BINARY]     (default .build/release/dialclip)
# Needs ../shared/model/tiny-clip-hf (the test CLIP) and, for the dialogue rows, MiniLM.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$(realpath "${1:-$ROOT/.build/release/dialclip}")"
MODEL="$(realpath "${DIALCLIP_SHARED:-$ROOT/../shared}")/model/tiny-clip-hf"
[ -x "$BIN" ] || { echo "bad-inputs: no binary at $BIN (swift build -c release)" >&2; exit 2; }
W="$(mktemp -d /tmp/dialclip-bad-inputs.XXXXXX)"
trap 'rm -rf "$W"' EXIT
cd "$W"
PHOTO="$ROOT/assets/gallery/photos/gcompris-hammer8.jpg"

# Fixtures --------------------------------------------------------------------------------
python3 - "$PHOTO" <<'PY'
import json, struct, sys, zlib, os
jpg = open(sys.argv[1], "rb").read()
i = 2
while True:                      # find the SOF marker to rewrite the image size
    m = jpg[i + 1]; n = struct.unpack(">H", jpg[i + 2:i + 4])[0]
    if m in (0xC0, 0xC1, 0xC2): break
    i += 2 + n
bomb = bytearray(jpg); bomb[i + 5:i + 9] = struct.pack(">HH", 60000, 60000)
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))
def st(header, data=b""):
    h = json.dumps(header).encode(); return struct.pack("<Q", len(h)) + h + data
files = {
    "empty/a.jpg": b"", "text/a.jpg": b"hello, this is not a photo\n", "truncated/a.jpg": jpg[:len(jpg) // 2],
    "bomb/a.jpg": bytes(bomb), "pngbomb/a.png": png, "gif/a.jpg": b"GIF89a" + b"\0" * 40,
    "badjsonl/a.jpg": jpg, "badjsonl/gallery.jsonl": b'{"file": "a.jpg", "caption": "ok"}\n{not json\n[1,2]\n\xff\xfe\n',
    "sidecar/a.jpg": jpg, "sidecar/a.jpg.txt": b"x" * 5_000_000,
    "good/a.jpg": jpg,
    "garbage.safetensors": os.urandom(4096), "hugeheader.safetensors": struct.pack("<Q", 10**15) + b"{}",
    "tensor1e12.safetensors": st({"t": {"dtype": "F32", "shape": [1000000, 1000000], "data_offsets": [0, 4]}}, b"\0" * 4),
    "garbage.sqlite": os.urandom(8192), "notes.jpg": b"just some notes\n",
    "dialogs-bad.jsonl": b'{"turns": [{"text": "hi"}]}\n{"turns": "nope"}\n', "dialogs-binary.jsonl": b"\x00\xff\xfe garbage",
    "dialogs-empty.jsonl": b"\n\n", "replies-empty.txt": b"\n  \n", "replies-binary.txt": b"ok\n\xff\xfe\n",
}
for p, b in files.items():
    os.makedirs(os.path.dirname(p) or ".", exist_ok=True); open(p, "wb").write(b)
PY
mkdir -p loop/sub broken; ln -s .. loop/sub/up; cp "$PHOTO" loop/a.jpg; ln -s /nonexistent broken/gone.jpg
cp -r "$MODEL" truncmodel; truncate -s 100000 truncmodel/model.safetensors
mkdir -p newer; "$BIN" index good --db newer/db.sqlite --model "$MODEL" >/dev/null 2>&1
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("INSERT INTO grdb_migrations (identifier) VALUES (\x27v99-future\x27)"); c.commit()' newer/db.sqlite
mkdir -p half; "$BIN" index good --db half/db.sqlite --model "$MODEL" >/dev/null 2>&1
truncate -s 5000 half/db.sqlite
mkdir -p wal; "$BIN" index good --db wal/db.sqlite --model "$MODEL" >/dev/null 2>&1
head -c 40000 /dev/urandom > wal/db.sqlite-wal

# Runner ----------------------------------------------------------------------------------
row() {  # row "input" "command as shown" command…
    local what="$1" shown="$2"; shift 2
    local out err code msg
    out="$(timeout 120 "$@" 2>"$W/.err")"; code=$?
    err="$(grep -m1 -E '^Error:' "$W/.err" || head -n1 "$W/.err")"
    msg="$(printf '%s' "$out" | python3 -c '
import json, sys
try: o = json.loads(sys.stdin.read().splitlines()[0])
except Exception: sys.exit(0)
if not isinstance(o, dict): sys.exit(0)
p = o.get("problems") or []
if p: print("problem " + p[0].get("reason", "") + ": " + p[0].get("message", "")); sys.exit(0)
w = o.get("warnings") or []
if w: print("warning: " + w[0]); sys.exit(0)
keys = ["added", "updated", "unchanged", "removed", "broken_links", "skipped_links"]
print("indexed (" + ", ".join("%s %s" % (k, o[k]) for k in keys if o.get(k)) + ")" if any(o.get(k) for k in keys) else "")
' 2>/dev/null)"
    [ -z "$msg" ] && msg="$err"
    [ -z "$msg" ] && msg="(no message) $(printf '%s' "$out" | head -c 80)"
    msg="${msg//$W\//}"; msg="${msg//$W/}"; msg="${msg//|/\\|}"
    printf '| %s | `%s` | %s | %s |\n' "$what" "$shown" "$code" "$msg"
}
I=("$BIN" index --model "$MODEL" --json)
J=("$BIN" index --json)
echo '| bad input | command | exit | what dialclip says |'
echo '|---|---|---|---|'
row "folder does not exist" 'dialclip index --model TINY --json --db db1.sqlite nowhere' "${I[@]}" --db db1.sqlite nowhere
row "0-byte .jpg" 'dialclip index --model TINY --json --db db2.sqlite empty' "${I[@]}" --db db2.sqlite empty
row "text file named .jpg" 'dialclip index --model TINY --json --db db3.sqlite text' "${I[@]}" --db db3.sqlite text
row "JPEG cut in half" 'dialclip index --model TINY --json --db db4.sqlite truncated' "${I[@]}" --db db4.sqlite truncated
row "JPEG header claiming 60000×60000 (decompression bomb)" 'dialclip index --model TINY --json --db db5.sqlite bomb' "${I[@]}" --db db5.sqlite bomb
row "PNG header claiming 100000×100000" 'dialclip index --model TINY --json --db db6.sqlite pngbomb' "${I[@]}" --db db6.sqlite pngbomb
row "GIF named .jpg" 'dialclip index --model TINY --json --db db7.sqlite gif' "${I[@]}" --db db7.sqlite gif
row "gallery.jsonl with broken lines" 'dialclip index --model TINY --json --db db8.sqlite badjsonl' "${I[@]}" --db db8.sqlite badjsonl
row "5 MB sidecar caption" 'dialclip index --model TINY --json --db db9.sqlite sidecar' "${I[@]}" --db db9.sqlite sidecar
row "symlink loop" 'dialclip index --model TINY --json --db db10.sqlite loop' "${I[@]}" --db db10.sqlite loop
row "broken symlink" 'dialclip index --model TINY --json --db db11.sqlite broken' "${I[@]}" --db db11.sqlite broken
row "database file is garbage" 'dialclip index --model TINY --json --db garbage.sqlite good' "${I[@]}" --db garbage.sqlite good
row "database path is a folder" 'dialclip index --model TINY --json --db good good' "${I[@]}" --db good good
row "database folder cannot be created" 'dialclip index --model TINY --json --db /proc/dialclip/db.sqlite good' "${I[@]}" --db /proc/dialclip/db.sqlite good
row "database from a newer dialclip" 'dialclip index --model TINY --json --db newer/db.sqlite good' "${I[@]}" --db newer/db.sqlite good
row "database truncated to 5000 bytes" 'dialclip index --model TINY --json --db half/db.sqlite good' "${I[@]}" --db half/db.sqlite good
row "garbage -wal file beside the database" 'dialclip index --model TINY --json --db wal/db.sqlite good' "${I[@]}" --db wal/db.sqlite good
row "model path does not exist" 'dialclip index --json --db db12.sqlite --model nowhere.safetensors good' "${J[@]}" --db db12.sqlite --model nowhere.safetensors good
row "model file is random bytes" 'dialclip index --json --db db13.sqlite --model garbage.safetensors good' "${J[@]}" --db db13.sqlite --model garbage.safetensors good
row "safetensors header length 10^15" 'dialclip index --json --db db14.sqlite --model hugeheader.safetensors good' "${J[@]}" --db db14.sqlite --model hugeheader.safetensors good
row "safetensors tensor claiming 10^12 elements" 'dialclip index --json --db db15.sqlite --model tensor1e12.safetensors good' "${J[@]}" --db db15.sqlite --model tensor1e12.safetensors good
row "checkpoint truncated (download cut)" 'dialclip index --json --db db16.sqlite --model truncmodel good' "${J[@]}" --db db16.sqlite --model truncmodel good
row "empty search query" 'dialclip search    --model TINY --db db17.sqlite --no-index' "$BIN" search "  " --model "$MODEL" --db db17.sqlite --no-index
row "search -k 0" 'dialclip search cat -k 0 --model TINY --db db17.sqlite --no-index' "$BIN" search cat -k 0 --model "$MODEL" --db db17.sqlite --no-index
row "search image term that is a text file" 'dialclip search ./notes.jpg --model TINY --db newer2.sqlite --gallery good' "$BIN" search ./notes.jpg --model "$MODEL" --db newer2.sqlite --gallery good
row "inspect a text file as the image" 'dialclip inspect notes.jpg a cat --model TINY' "$BIN" inspect notes.jpg "a cat" --model "$MODEL"
row "embed an image that does not exist" 'dialclip embed --model TINY --image nowhere.jpg' "$BIN" embed --model "$MODEL" --image nowhere.jpg
row "dialogue file with a bad record" 'dialclip eval --task reply --dialogs dialogs-bad.jsonl' "$BIN" eval --task reply --dialogs dialogs-bad.jsonl
row "dialogue file of binary garbage" 'dialclip eval --task reply --dialogs dialogs-binary.jsonl' "$BIN" eval --task reply --dialogs dialogs-binary.jsonl
row "dialogue file with only blank lines" 'dialclip eval --task reply --dialogs dialogs-empty.jsonl' "$BIN" eval --task reply --dialogs dialogs-empty.jsonl
row "reply pool with only blank lines" 'dialclip search hi --kind reply --replies replies-empty.txt --db db18.sqlite' "$BIN" search hi --kind reply --replies replies-empty.txt --db db18.sqlite
row "reply pool with invalid UTF-8" 'dialclip search hi --kind reply --replies replies-binary.txt --db db19.sqlite' "$BIN" search hi --kind reply --replies replies-binary.txt --db db19.sqlite
row "100 KB one-word text to embed" 'dialclip embed --model TINY --text aaa…a (100,000 bytes)' "$BIN" embed --model "$MODEL" --text "$(head -c 100000 /dev/zero | tr '\0' 'a')"
row "stdout is a full disk" 'dialclip index --model TINY --json --db db20.sqlite good > /dev/full' sh -c "exec \"$BIN\" index --model \"$MODEL\" --json --db db20.sqlite good > /dev/full"
row "file-size limit hit while writing the database" 'ulimit -f 50; dialclip index --model TINY --json --db db21.sqlite assets/gallery/photos' sh -c "ulimit -f 50; exec \"$BIN\" index --model \"$MODEL\" --json --db db21.sqlite \"$ROOT/assets/gallery/photos\""
