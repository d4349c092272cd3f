#!/usr/bin/env bash
# tests/test_slurm.sh MBENCH SRC: scripts/slurm-sweep end to end on a single-node Slurm
# cluster that this test starts on this machine (Debian's munge, slurmctld and slurmd,
# configured for localhost in a temporary directory: its own munge socket and key, its
# own ports and SLURM_CONF, so a Slurm already installed on the host is not touched):
# the smoke scenario as a 2-task array (one shard per task, --exclusive), then the
# dependent merge + plot job; checks the merged directory, then stops the daemons it
# started and removes its files (also on failure or interrupt: trap).
# Exit status 77 (ctest: skipped) when the Slurm/munge packages are missing or not root.
# Holds the CPU lock (/tmp/mbench-cpu.lock) for its whole run, unless an ancestor holds it;
# the daemons get the lock's descriptor closed, so none of them can keep the lock.
set -u
mb=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=$2
for c in munged slurmctld slurmd sbatch squeue scontrol sinfo; do
  command -v "$c" >/dev/null || PATH=$PATH:/usr/sbin command -v "$c" >/dev/null ||
    { echo "SKIP: $c not installed (scripts/setup installs munge slurmctld slurmd slurm-client)"; exit 77; }
done
export PATH=$PATH:/usr/sbin
[ "$(id -u)" -eq 0 ] || { echo "SKIP: a Slurm cluster with SlurmUser=root needs root"; exit 77; }

# ---- the CPU lock: taken here unless a process above us (flock ... ctest) holds it
lock=/tmp/mbench-cpu.lock
held_above() {
  [ -e "$lock" ] || return 1
  local ino holders p
  ino=$(stat -c %i "$lock")
  holders=$(awk -v i="$ino" '$2 == "FLOCK" { split($6, a, ":"); if (a[3] == i) print $5 }' /proc/locks)
  p=$$
  while [ "$p" -gt 1 ]; do
    grep -qx "$p" <<<"$holders" && return 0
    p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null) || return 1
  done
  return 1
}
if ! held_above; then exec 9>"$lock"; flock 9; fi

fails=0; n=0
fail() { echo "FAIL: $*"; fails=$((fails+1)); }
check() { n=$((n+1)); if ! eval "$1"; then fail "$2"; fi; }
d=$(mktemp -d /tmp/mbench-slurm.XXXXXX)
chmod 755 "$d"

# ---- cleanup: stop exactly the daemons started here, by their pid files
stop() {
  local pids=""
  for f in slurmctld.pid slurmd.pid munged.pid; do
    [ -s "$d/$f" ] && pids="$pids $(cat "$d/$f")"
  done
  [ -n "$pids" ] || { rm -rf "$d"; return; }
  export SLURM_CONF=$d/slurm.conf
  if [ -s "$d/slurmd.pid" ] && [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
    scancel --full --partition=debug >/dev/null 2>&1   # jobs left (a failure): their steps must end too
    for i in $(seq 1 100); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.1; done
  fi
  scontrol shutdown >/dev/null 2>&1
  for p in $pids; do kill "$p" 2>/dev/null; done
  for i in $(seq 1 50); do
    local alive=0
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in $pids; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$d"
}
trap stop EXIT
trap 'exit 130' INT TERM

# ---- munge: its own key and socket
dd if=/dev/urandom of="$d/munge.key" bs=1024 count=1 status=none
chmod 600 "$d/munge.key"
munged --force -S "$d/munge.sock" --key-file "$d/munge.key" --log-file "$d/munged.log" \
       --pid-file "$d/munged.pid" --seed-file "$d/munged.seed" 9>&- ||
  { fail "munged did not start: $(tail -n 3 "$d/munged.log" 2>/dev/null)"; exit 1; }

# ---- slurm.conf: one node (this machine as localhost), free ports
read -r port1 port2 < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
mkdir -p "$d/state" "$d/spool"
cat >"$d/slurm.conf" <<EOF
ClusterName=mbench
SlurmctldHost=localhost
SlurmctldPort=$port1
SlurmdPort=$port2
AuthType=auth/munge
AuthInfo=socket=$d/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd.log
PlugStackConfig=$d/plugstack.conf
ProctrackType=proctrack/pgid
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=600
NodeName=localhost CPUs=$(nproc) RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
: >"$d/plugstack.conf"
export SLURM_CONF=$d/slurm.conf
t0=$(date +%s.%N)
slurmctld -i 9>&- || { fail "slurmctld did not start: $(tail -n 5 "$d/slurmctld.log")"; exit 1; }
slurmd -N localhost 9>&- || { fail "slurmd did not start: $(tail -n 5 "$d/slurmd.log")"; exit 1; }
up=0
for i in $(seq 1 150); do
  [ "$(sinfo -h -n localhost -o %T 2>/dev/null)" = idle ] && { up=1; break; }
  sleep 0.2
done
[ $up = 1 ] || { fail "the node never became idle: $(sinfo 2>&1 | tail -2); $(tail -n 5 "$d/slurmd.log")"; exit 1; }
echo "cluster up in $(python3 -c "import time; print(round(time.time() - $t0, 1))") s: ports $port1/$port2, SLURM_CONF=$SLURM_CONF"

# ---- the smoke scenario as a 2-task array, then merge + plot
out=$d/results
t1=$(date +%s.%N)
"$src/scripts/slurm-sweep" smoke --shards 2 --out "$out" --mbench "$mb" --set seqlen=16 --set channels=8 \
  --set min_time=0.001 --no-calibrate --partition=debug >"$d/submit.out" 2>&1; st=$?
cat "$d/submit.out"
check '[ $st -eq 0 ]' "slurm-sweep exit status $st"
array_id=$(sed -n 's/^shards: job \([0-9]*\) .*/\1/p' "$d/submit.out")
merge_id=$(sed -n 's/^merge + plot: job \([0-9]*\) .*/\1/p' "$d/submit.out")
check '[ -n "$array_id" ] && [ -n "$merge_id" ]' "no job ids printed"
state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | sort -u | tr '\n' ' '; }
final=""
for i in $(seq 1 600); do   # at most 120 s
  final=$(state "$merge_id")
  case $final in *COMPLETED*|*FAILED*|*CANCELLED*|*TIMEOUT*|*NODE_FAIL*) break ;; esac
  sleep 0.2
done
echo "shards (job $array_id): $(state "$array_id"); merge (job $merge_id): $final;" \
     "$(python3 -c "import time; print(round(time.time() - $t1, 1))") s from submission"
check '[ "$final" = "COMPLETED " ]' "merge job $merge_id ended $final: $(cat "$out/slurm/merge.out" 2>/dev/null | tail -3)"
check '[ "$(state "$array_id")" = "COMPLETED " ]' "array job $array_id: $(state "$array_id"); $(tail -n 2 "$out"/slurm/shard-*.out)"
for i in 0 1; do
  check 'grep -q "^shard $i/2 on " "$out/slurm/shard-$i.out"' "shard $i log: $(head -3 "$out/slurm/shard-$i.out" 2>/dev/null)"
done
n=$((n+1))
if ! python3 - "$out" <<'PY'
import csv, json, sys
o = sys.argv[1]
rows = list(csv.DictReader(open(f"{o}/merged/points.csv")))
assert len(rows) == 16 and len({(r["point"], r["kernel"]) for r in rows}) == 16, len(rows)
for i in (0, 1):
    m = json.load(open(f"{o}/shard-{i}/meta.json"))
    assert m["partition"]["index"] == i and m["partition"]["count"] == 2 and m["status"] == "complete"
    assert m["runs"][0]["command_line"][-1] == "--no-plot"
m = json.load(open(f"{o}/merged/meta.json"))
assert m["mbench"] == "merge" and m["status"] == "complete" and m["partition"]["merged"] == [0, 1], m["partition"]
assert len(m["sources"]) == 2
fits = list(csv.DictReader(open(f"{o}/merged/fits.csv")))
assert fits and all(f["axis"] == "d_state" for f in fits)
PY
then fail "merged results"; fi
check '[ -s "$out/merged/plots/d_state-time.png" ] && [ -s "$out/merged/plots/d_state-time.svg" ]' \
  "no plots: $(tail -n 3 "$out/slurm/merge.out")"
check 'grep -q "plots/d_state-time.png" "$out/slurm/merge.out"' "the merge job did not run mbench plot"

echo "$((n-fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
