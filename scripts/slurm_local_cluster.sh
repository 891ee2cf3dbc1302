#!/usr/bin/env bash
# A single-node SLURM cluster on this machine (controller + compute node on localhost), for CI
# and for trying `hydra/launcher=slurm` before pointing it at a real cluster.
#
#   sudo bash scripts/slurm_local_cluster.sh          # install (Debian/Ubuntu), configure, start
#   sudo bash scripts/slurm_local_cluster.sh stop     # stop the daemons
#
# What it does (read it before running it as root):
#   1. apt-get installs slurm-wlm and munge (Debian packages) if `slurmctld` is missing;
#   2. creates a munge key if there is none and starts munged;
#   3. writes /etc/slurm/slurm.conf for one node named after this host (all its CPUs, 80 % of
#      its memory), partition `debug`, no accounting, no cgroups (works in containers);
#   4. starts slurmctld and slurmd and waits until the node is idle.
# An existing /etc/slurm/slurm.conf that this script did not write is left alone (exit 1).
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# written by eegbench scripts/slurm_local_cluster.sh"

stop() {
    scancel --user=root >/dev/null 2>&1 || true
    for daemon in slurmd slurmctld; do
        if [ -f "/run/$daemon.pid" ]; then
            kill "$(cat "/run/$daemon.pid")" 2>/dev/null || true
            rm -f "/run/$daemon.pid"
        fi
    done
}

if [ "${1:-start}" = "stop" ]; then
    stop
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "slurm_local_cluster.sh: must run as root (it installs packages and starts daemons)" >&2
    exit 1
fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends slurm-wlm munge
fi

# munge: the authentication slurm uses between its daemons and commands.
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge 2>/dev/null || true
chmod 0700 /etc/munge
chmod 0400 /etc/munge/munge.key
if ! munge -n >/dev/null 2>&1; then
    if id munge >/dev/null 2>&1; then
        runuser -u munge -- /usr/sbin/munged --force
    else
        /usr/sbin/munged --force
    fi
    for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
fi

HOST=$(hostname -s)
CPUS=$(getconf _NPROCESSORS_ONLN)  # not nproc: it honours OMP_NUM_THREADS
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) * 8 / 10 / 1024 ))
if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    echo "slurm_local_cluster.sh: $CONF exists and was not written by this script; not touching it" >&2
    exit 1
fi
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > "$CONF" <<CONF
$MARK
ClusterName=eegbench-local
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
# An empty cgroup.conf keeps slurmd from probing cgroups it does not use.
[ -f /etc/slurm/cgroup.conf ] || echo "$MARK" > /etc/slurm/cgroup.conf

stop
/usr/sbin/slurmctld -i
/usr/sbin/slurmd
for _ in $(seq 100); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qx idle; then
        echo "slurm_local_cluster.sh: node $HOST idle ($CPUS CPUs, ${MEM_MB} MB), partition debug"
        exit 0
    fi
    sleep 0.3
done
echo "slurm_local_cluster.sh: the node did not become idle; logs in /var/log/slurm" >&2
sinfo >&2 || true
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
