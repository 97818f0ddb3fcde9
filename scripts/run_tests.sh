#!/usr/bin/env bash
# All tests: lint, radio-side QA (system python3 + GNU Radio, via ctest), ML side
# (venv pytest) and end-to-end tests that span both. Fails if any part fails or
# collects no test (pytest exit 5 is a failure here, never a pass).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
GR_PYTHON="${GR_PYTHON:-/usr/bin/python3}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONDONTWRITEBYTECODE=1
failed=()

# Test-only tool: xvfb, so tests/test_grc_gui.py can start GNU Radio Companion headless.
if ! command -v xvfb-run >/dev/null 2>&1; then
    echo "=== installing xvfb (test set-up only)"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq xvfb; } \
        || echo "could not install xvfb: the GRC start test will fail"
fi

run_pytest() {  # name, python, args...
    local name="$1" py="$2"; shift 2
    echo "=== $name"
    "$py" -m pytest "$@"
    local rc=$?
    if [ $rc -eq 5 ]; then echo "$name: pytest collected no tests - treated as a failure"; failed+=("$name(no tests)");
    elif [ $rc -ne 0 ]; then failed+=("$name"); fi
}

echo "=== lint (ruff)"
"$VENV/bin/ruff" check python_ml gr-lgvsc/python tests bench fuzz || failed+=("lint")

echo "=== radio side (ctest: gr_unittest QA files)"
(cd build && ctest --output-on-failure --timeout 900) || failed+=("radio-qa")

run_pytest "ml" "$VENV/bin/python" python_ml/tests -q -p no:cacheprovider
if ls tests/test_*.py >/dev/null 2>&1; then
    run_pytest "end-to-end" "$VENV/bin/python" tests -q -p no:cacheprovider
else
    echo "=== end-to-end: no tests/test_*.py yet"
fi

if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED parts: ${failed[*]}"
    exit 1
fi
echo "all test parts passed"
