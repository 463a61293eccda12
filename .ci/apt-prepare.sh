# Sourced by the .ci/install-*.sh scripts, after they define skip() (print why, exit 0) and
# LOG (apt-get's log): checks that apt-get can be used, as root or through password-less
# sudo (sets SUDO), and updates the package lists; otherwise skip()s with the reason.
command -v apt-get >/dev/null 2>&1 || skip "apt-get not found (not a Debian/Ubuntu system)"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        skip "not root and no password-less sudo"
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >"$LOG" 2>&1 || { tail -n 20 "$LOG" >&2; skip "apt-get update failed (see above)"; }
