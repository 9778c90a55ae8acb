#!/usr/bin/env bash
# A one-node Slurm on this machine for tests and CI: munged, slurmctld and
# slurmd from Debian's packages (setup.sh installs them), configured in a
# state directory, so nothing under /etc is touched.
#
#   testing/slurm/local_slurm.sh start DIR   # prints the SLURM_CONF to export
#   SLURM_CONF=DIR/slurm.conf sbatch ...
#   testing/slurm/local_slurm.sh stop DIR
#
# Needs root (slurmd starts jobs as their user). One partition "debug" with
# this host's CPUs and memory; jobs run without cgroups (proctrack/linuxproc).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"  # the daemons live there; bazel test runs with PATH=/usr/bin:/bin
cmd=${1:-}
dir=${2:-}
[[ -n "$cmd" && -n "$dir" ]] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
dir=$(mkdir -p "$dir" && cd "$dir" && pwd)

stop() {
  for pidfile in "$dir"/slurmd.pid "$dir"/slurmctld.pid "$dir"/munged.pid; do
    [[ -f "$pidfile" ]] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
  if [[ -f "$dir/short_dir" ]]; then
    rm -rf "$(cat "$dir/short_dir")"
    rm -f "$dir/short_dir"
  fi
}

if [[ "$cmd" == stop ]]; then
  stop
  exit 0
fi
[[ "$cmd" == start ]] || { echo "$0: unknown command '$cmd'" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "$0: needs root (slurmd)" >&2; exit 1; }
for b in munged slurmctld slurmd sbatch; do
  command -v "$b" >/dev/null || { echo "$0: $b not found (run ./setup.sh)" >&2; exit 1; }
done

host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024))
# Sockets (munge's, slurmstepd's in the spool) need paths under 108 bytes,
# which a test's TMPDIR may exceed: they go to a short directory of their own.
short=$(mktemp -d /tmp/diffmem-slurm.XXXXXX)
echo "$short" > "$dir/short_dir"
mkdir -p "$short/ctld" "$short/d" "$dir/munge"
chmod 700 "$dir/munge"

# munge: its own key and socket in DIR (a key made here if none exists).
if [[ ! -f "$dir/munge/munge.key" ]]; then
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
fi
socket=$short/munge.socket
munged --force --key-file="$dir/munge/munge.key" --socket="$socket" \
  --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/seed"

cat > "$dir/slurm.conf" <<CONF
ClusterName=diffmem
SlurmctldHost=$host
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$((6817 + 0))
SlurmdPort=6818
StateSaveLocation=$short/ctld
SlurmdSpoolDir=$short/d
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
# Ready when the node accepts jobs.
for _ in $(seq 100); do
  if sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; then
    echo "$SLURM_CONF"
    exit 0
  fi
  sleep 0.2
done
echo "$0: the Slurm node did not come up; logs in $dir (slurmctld.log, slurmd.log)" >&2
sinfo >&2 || true
stop
exit 1
