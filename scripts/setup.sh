#!/usr/bin/env bash
# One-shot, idempotent set-up: apt packages, the ML venv, the gr-lgvsc OOT module.
# A second run skips what is done and takes seconds. See README "Where things go".
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

GR_PYTHON="${GR_PYTHON:-/usr/bin/python3}"          # the interpreter that has GNU Radio
VENV="${VENV:-$ROOT/.venv}"
PREFIX="${LGVSC_PREFIX:-/usr/local}"
APT_PACKAGES=(gnuradio gnuradio-dev g++ python3-zmq python3-pytest python3-venv cmake pkg-config
              libspdlog-dev pybind11-dev python3-pybind11 ffmpeg git
              uhd-host soapysdr-module-hackrf hackrf python3-matplotlib
              gir1.2-gtk-3.0)  # GRC's GUI: Debian's gnuradio does not pull it ("Namespace Gtk not available")

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# 1. System packages (Debian 12 / Ubuntu 22.04+: GNU Radio 3.10).
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing apt packages: ${missing[*]}"
    $SUDO apt-get update -qq
    # With recommends: GNU Radio recommends python3-scipy, python3-matplotlib and the Qt widgets
    # that its Python blocks and our GUI flowgraphs use.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
else
    log "apt packages: present"
fi

# 2. The ML venv (numpy 2, torch CPU wheel, transformers, diffusers, sionna). Never the
#    system site-packages: GNU Radio's numpy 1.x must not leak in, nor ours out.
PYPROJECT_HASH="$(sha256sum python_ml/pyproject.toml | cut -c1-16)"
STAMP="$VENV/.lgvsc-installed-$PYPROJECT_HASH"
if [ ! -f "$STAMP" ]; then
    [ -x "$VENV/bin/python" ] || { log "creating venv $VENV"; "$GR_PYTHON" -m venv "$VENV"; }
    log "installing the lgvsc package and its dependencies into $VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    # The pinned CPU wheel first, so nothing resolves torch to a CUDA build.
    "$VENV/bin/pip" install -q "torch==2.13.0"
    "$VENV/bin/pip" install -q -e "python_ml[test]"
    rm -f "$VENV"/.lgvsc-installed-*
    touch "$STAMP"
else
    log "venv: up to date"
fi

# 3. The GNU Radio out-of-tree module (Python blocks, GRC YAML) into $PREFIX.
log "building and installing gr-lgvsc into $PREFIX"
cmake -S . -B build -DCMAKE_INSTALL_PREFIX="$PREFIX" -DPython3_EXECUTABLE="$GR_PYTHON" \
      -DCMAKE_BUILD_TYPE=Release > build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j2 >> build.log 2>&1 || { cat build.log; exit 1; }
$SUDO cmake --install build >> build.log 2>&1 || { cat build.log; exit 1; }
$SUDO ldconfig 2>/dev/null || true

"$GR_PYTHON" -c "import gnuradio.lgvsc" || { log "ERROR: $GR_PYTHON cannot import gnuradio.lgvsc"; exit 1; }
"$VENV/bin/lgvsc" --help > /dev/null || { log "ERROR: $VENV/bin/lgvsc does not run"; exit 1; }
log "ready: radio side = $GR_PYTHON (gnuradio.lgvsc), ML side = $VENV/bin/lgvsc"
