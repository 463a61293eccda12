#!/usr/bin/env bash
# Install Debian's slurm-wlm and munge for the one-node SLURM used by tests/cluster/.
#
# Idempotent: does nothing when sbatch, slurmctld, slurmd and munged are already on PATH.
# Never fails the CI run: when the packages cannot be installed (no root, no apt-get,
# no network to the package mirror) it prints why and exits 0; the cluster tests then
# skip themselves with a message naming the missing programs.
set -u

have_all() {
    for prog in sbatch slurmctld slurmd munged sinfo squeue scontrol; do
        command -v "$prog" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$prog" >/dev/null 2>&1 || return 1
    done
    return 0
}

if have_all; then
    echo "install-slurm: slurm-wlm and munge already installed, nothing to do"
    exit 0
fi

skip() {
    echo "install-slurm: SKIP: $*" >&2
    echo "install-slurm: the tests in tests/cluster/ will be skipped" >&2
    exit 0
}

LOG=/tmp/install-slurm.log
echo "install-slurm: apt-get update"
# shellcheck source=apt-prepare.sh
. "$(dirname "$0")/apt-prepare.sh"
echo "install-slurm: apt-get install slurm-wlm munge"
# policy-rc.d exiting 101 keeps the packages' maintainer scripts from starting the
# system munged/slurmctld/slurmd (the tests start their own, on their own key/ports).
POLICY=/usr/sbin/policy-rc.d
CREATED_POLICY=0
if [ ! -e "$POLICY" ]; then
    $SUDO sh -c "printf '#!/bin/sh\nexit 101\n' >$POLICY && chmod +x $POLICY" && CREATED_POLICY=1
fi
$SUDO apt-get install -y -qq --no-install-recommends slurm-wlm munge >>"$LOG" 2>&1
rc=$?
if [ "$CREATED_POLICY" -eq 1 ]; then $SUDO rm -f "$POLICY"; fi
if [ "$rc" -ne 0 ]; then
    tail -n 20 "$LOG" >&2
    skip "apt-get install slurm-wlm munge failed (exit $rc, see above)"
fi

if have_all; then
    echo "install-slurm: installed slurm-wlm $(dpkg-query -W -f='${Version}' slurm-wlm 2>/dev/null), munge $(dpkg-query -W -f='${Version}' munge 2>/dev/null)"
else
    skip "packages installed but sbatch/slurmctld/slurmd/munged still not found on PATH"
fi
exit 0
