#!/usr/bin/env bash
# Prints the OpenBLAS kernel (OPENBLAS_CORETYPE value) this CPU should use, or nothing when
# OpenBLAS's own choice should stand. Debian's OpenBLAS 0.3.21 does not recognise recent Xeons
# and falls back to its slow SSE3 "Prescott" kernels (see docs/setup.md).
#   avx512f + avx512bw + avx512vl -> SkylakeX;  avx2 + fma -> Haswell;  else nothing.
#   Scripts/openblas-coretype.sh [CPUINFO_FILE]            (default /proc/cpuinfo)
#   Scripts/openblas-coretype.sh --supported [CPUINFO_FILE]  all usable kernels, one a line
#                                                           (Prescott first)
set -euo pipefail
all=0
if [ "${1:-}" = "--supported" ]; then all=1; shift; fi
cpuinfo="${1:-/proc/cpuinfo}"
[ -r "$cpuinfo" ] || { echo "openblas-coretype: cannot read $cpuinfo" >&2; exit 1; }
# Flags of the first processor entry ("flags : fpu vme ...").
flags=" $(grep -m1 -E '^flags[[:space:]]*:' "$cpuinfo" | cut -d: -f2- || true) "
has() { local f; for f in "$@"; do [[ "$flags" == *" $f "* ]] || return 1; done; }
if [ "$all" = 1 ]; then
    echo Prescott
    if has avx2 fma; then echo Haswell; fi
    if has avx512f avx512bw avx512vl; then echo SkylakeX; fi
    exit 0
fi
if has avx512f avx512bw avx512vl; then echo SkylakeX
elif has avx2 fma; then echo Haswell
fi
