#!/usr/bin/env bash
# Remove what `cmake --install build` put under the prefix (listed in
# build/install_manifest.txt): the gnuradio.lgvsc package and the GRC YAML.
# The venv (.venv/) and apt packages are left alone; delete .venv/ by hand.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MANIFEST="$ROOT/build/install_manifest.txt"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ ! -f "$MANIFEST" ]; then
    echo "uninstall: $MANIFEST not found (nothing installed from this checkout?)" >&2
    exit 1
fi
while IFS= read -r f; do
    [ -n "$f" ] || continue
    if [ -e "$f" ] || [ -L "$f" ]; then $SUDO rm -f -- "$f" && echo "removed $f"; fi
done < "$MANIFEST"
# Empty package directory (and its __pycache__) left behind by Python.
for d in $(grep '/gnuradio/lgvsc/' "$MANIFEST" | xargs -r -n1 dirname | sort -u); do
    $SUDO rm -rf -- "$d/__pycache__"; $SUDO rmdir --ignore-fail-on-non-empty -- "$d" 2>/dev/null || true
done
echo "uninstall: done"
