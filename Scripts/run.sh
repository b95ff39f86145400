#!/usr/bin/env bash
# Builds and starts dialclip: Scripts/setup.sh, `swift build -c release`, then
# `.build/release/dialclip "$@"` (no arguments: the chat TUI on the bundled gallery).
# Set-up and build messages go to stderr, so stdout carries only what dialclip prints
# (e.g. `Scripts/run.sh search "a dog on a beach" | head -3`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash Scripts/setup.sh </dev/null >&2 || { echo "run.sh: Scripts/setup.sh failed (see above)" >&2; exit 1; }
if ! swift build -c release --product dialclip >&2; then
    echo "run.sh: 'swift build -c release' failed (see above)" >&2
    exit 1
fi
exec .build/release/dialclip "$@"
