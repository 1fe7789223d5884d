#!/usr/bin/env bash
# Installs everything lexie needs to build and test on a fresh Debian/Ubuntu
# machine: the C toolchain and -dev libraries (apt) and the Python packages
# the reference tests use (pip).  Safe to run again.
set -euo pipefail

# chromium: headless, for the test of `lexie view`'s page (tests/view_chromium.py).
APT_PACKAGES="build-essential clang clang-format python3 python3-pip libpcre2-dev libutf8proc-dev valgrind chromium"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

missing=""
for p in $APT_PACKAGES; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi

# numpy and gguf for tests/ref (tiny reference models); nothing else runs
# from PyPI.  Pinned so fixtures are reproducible.
python3 -m pip install -q --disable-pip-version-check "numpy>=1.24" "gguf==0.19.0" 2>&1 \
    | grep -v "Running pip as the 'root' user" || true
python3 -c "import numpy, gguf" || { echo "setup: numpy/gguf failed to install" >&2; exit 1; }
echo "setup: done"
