#!/usr/bin/env bash
# Install Debian's UDUNITS-2 library and its unit database for the CF checker (cfchecker's
# cfunits loads libudunits2 with ctypes), which tests/test_files.py runs on every kind of
# NetCDF product.
#
# Idempotent: does nothing when the library is already installed. Never fails the CI run:
# when it cannot be installed (no root, no apt-get, no mirror) it prints why and exits 0;
# the CF test then skips itself, naming the missing library.
set -u

if ldconfig -p 2>/dev/null | grep -q 'libudunits2\.so'; then
    echo "install-udunits: libudunits2 already installed, nothing to do"
    exit 0
fi
skip() {
    echo "install-udunits: SKIP: $*; the CF checker test will be skipped" >&2
    exit 0
}
LOG=/tmp/install-udunits.log
# shellcheck source=apt-prepare.sh
. "$(dirname "$0")/apt-prepare.sh"
$SUDO apt-get install -y -qq --no-install-recommends libudunits2-0 libudunits2-data >>"$LOG" 2>&1 \
    || { tail -n 20 "$LOG" >&2; skip "apt-get install libudunits2-0 libudunits2-data failed"; }
echo "install-udunits: installed libudunits2-0 $(dpkg-query -W -f='${Version}' libudunits2-0 2>/dev/null)"
