#!/usr/bin/env bash
# Creates the reference virtualenv for `dialclip bench` and Scripts/reference_bench.py /
# Scripts/convert_checkpoint.py: the CPU build of torch 2.13.0, numpy, onnxruntime, onnx,
# onnxscript (torch.onnx.export needs it), safetensors and threadpoolctl, pinned.
# Idempotent: when the venv already holds exactly these, it only checks the imports and exits.
#
#   Scripts/make-reference-env.sh            # venv at ${DIALCLIP_REFENV:-${XDG_CACHE_HOME:-$HOME/.cache}/dialclip/refenv}
#   Scripts/make-reference-env.sh --force    # recreate it from scratch
#
# Environment:
#   DIALCLIP_REFENV       where the venv goes
#   DIALCLIP_TORCH_SPEC   what to give pip for torch (default torch==2.13.0+cpu). PyPI itself
#                         serves torch 2.13.0 for Linux x86_64 only as the CUDA build, which pulls
#                         several GB of nvidia-* packages; the "+cpu" build must come from a
#                         wheel folder pip knows (PIP_FIND_LINKS / find-links in pip.conf) or from
#                         a path: DIALCLIP_TORCH_SPEC=/path/to/torch-2.13.0+cpu-cp311-...whl.
#                         DIALCLIP_TORCH_SPEC=torch==2.13.0 accepts the CUDA build knowingly
#                         (it runs on the CPU too).
#   DIALCLIP_PYTHON       interpreter that creates the venv (default python3)
set -euo pipefail

log() { printf 'refenv: %s\n' "$*"; }
die() { printf 'refenv: ERROR: %s\n' "$*" >&2; exit 1; }

force=0
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) die "unknown option '$arg' (try --help)" ;;
    esac
done

REFENV="${DIALCLIP_REFENV:-${XDG_CACHE_HOME:-$HOME/.cache}/dialclip/refenv}"
PYTHON="${DIALCLIP_PYTHON:-python3}"
TORCH_SPEC="${DIALCLIP_TORCH_SPEC:-torch==2.13.0+cpu}"
# Pinned so that reference numbers are comparable between machines and runs.
OTHERS=(numpy==2.4.6 onnxruntime==1.32.0 onnx==1.23.2 onnxscript==0.7.2 safetensors==0.8.0
        threadpoolctl==3.8.0)
STAMP="$REFENV/.dialclip-refenv"
stamp_text() { printf '%s\n' "$TORCH_SPEC" "${OTHERS[@]}"; }

vpy="$REFENV/bin/python"
imports_ok() {
    "$vpy" - <<'PY' >/dev/null 2>&1
import torch, numpy, onnxruntime, onnx, onnxscript, safetensors, threadpoolctl
assert torch.__version__.startswith("2.13.0"), torch.__version__
PY
}

if [ "$force" = "0" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(stamp_text)" ] && [ -x "$vpy" ] && imports_ok; then
    log "reference env ok at $REFENV ($("$vpy" -c 'import torch; print("torch", torch.__version__)'))"
    exit 0
fi

if [ "$force" = "1" ] && [ -d "$REFENV" ]; then
    log "--force: removing $REFENV"
    rm -rf "$REFENV"
fi
if [ ! -x "$vpy" ]; then
    log "creating virtualenv at $REFENV"
    mkdir -p "$(dirname "$REFENV")"
    "$PYTHON" -m venv "$REFENV" || die "'$PYTHON -m venv $REFENV' failed. On Debian's own python3 install
  the venv module first: apt-get install python3-venv (as root), then re-run $0"
fi
rm -f "$STAMP"

pip=("$vpy" -m pip --disable-pip-version-check)
log "installing $TORCH_SPEC ${OTHERS[*]} (about 200 MB for the CPU torch wheel)"
if ! "${pip[@]}" install --progress-bar off "$TORCH_SPEC" "${OTHERS[@]}"; then
    if [ "$TORCH_SPEC" = "torch==2.13.0+cpu" ]; then
        die "this command failed:
    ${pip[*]} install $TORCH_SPEC ${OTHERS[*]}
  If pip said 'No matching distribution found for torch==2.13.0+cpu': PyPI serves torch 2.13.0
  for Linux only as the CUDA build. Either give pip a folder holding the CPU wheel
  (PIP_FIND_LINKS=/dir/with/wheel) or its path (DIALCLIP_TORCH_SPEC=/path/torch-2.13.0+cpu-...whl),
  or accept the multi-GB CUDA build with DIALCLIP_TORCH_SPEC=torch==2.13.0. Otherwise check the
  network / PyPI access and re-run $0."
    fi
    die "this command failed:
    ${pip[*]} install $TORCH_SPEC ${OTHERS[*]}
  Check pip's message above (network / PyPI access, DIALCLIP_TORCH_SPEC), then re-run $0."
fi
imports_ok || die "packages installed but 'import torch, onnxruntime, onnx, onnxscript, safetensors' fails in $vpy"
stamp_text > "$STAMP"
log "reference env ready at $REFENV ($("$vpy" -c 'import torch, onnxruntime as o; print("torch", torch.__version__, "onnxruntime", o.__version__)'))"
log "run: $vpy Scripts/reference_bench.py --threads 2 --json"
