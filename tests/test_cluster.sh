#!/usr/bin/env bash
# tests/test_cluster.sh MBENCH SRC: sharded sweeps and merging them (docs/cluster.md), on
# this machine, without Slurm: --shard validation and --plan; two shards of the smoke
# scenario together hold every run exactly once and record their shard; a killed shard
# resumes as the same shard; then `mbench merge`: the merged directory equals the union,
# fits are recomputed and `mbench plot` draws it; identical duplicates are kept once; a
# conflicting duplicate, shards of another scenario or partition, and a second machine
# type (faked by editing a copy's meta.json and rows) are refused with exit status 2
# naming the point and the directories, unless --allow-mixed keeps the series apart.
set -u
mb=$1
src=$2
fails=0; n=0
tmp=$(mktemp -d)
export MBENCH_RESULTS=$tmp/results
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; fails=$((fails+1)); }
check() { n=$((n+1)); if ! eval "$1"; then fail "$2"; fi; }
expect() { # expect STATUS PATTERN ARGS...
  local want=$1 pat=$2; shift 2
  n=$((n+1))
  o=$("$mb" "$@" 2>&1); s=$?
  if [ "$s" -ne "$want" ] || ! grep -qiE -- "$pat" <<<"$o"; then fail "mbench $* -> $s (want $want): $(head -3 <<<"$o")"; fi
}
tiny=(--set seqlen=16 --set channels=8 --set min_time=0.001 --no-calibrate)

# ---- --shard: bad values exit 2 naming the flag, before anything runs
expect 2 'shard index must be below the count' sweep smoke --shard 2/2
expect 2 'shard count N must be an integer' sweep smoke --shard 0/0
expect 2 'expected I/N' sweep smoke --shard 1
expect 2 'shard index I must be an integer' sweep smoke --shard x/2
expect 2 'takes no NAME.*--shard' sweep --resume "$tmp" --shard 0/2
check '[ ! -e "$MBENCH_RESULTS" ]' "a rejected --shard created a results directory"

# ---- --plan: the partition without running; the same twice; shards' runs add up
"$mb" sweep smoke "${tiny[@]}" --shard 0/2 --plan >"$tmp/p0" 2>&1; st=$?
"$mb" sweep smoke "${tiny[@]}" --shard 1/2 --plan >"$tmp/p1" 2>&1
"$mb" sweep smoke "${tiny[@]}" --shard 0/2 --plan >"$tmp/p0b" 2>&1
check '[ $st -eq 0 ] && grep -q "^plan: smoke, shard 0 of 2 (rule lpt-v1): 8 of 16 runs" "$tmp/p0"' "plan 0/2: $(head -2 "$tmp/p0")"
check 'cmp -s "$tmp/p0" "$tmp/p0b"' "two plans of shard 0/2 differ"
check '[ "$(sort <(tail -n +4 "$tmp/p0") <(tail -n +4 "$tmp/p1") | awk "{print \$1, \$2}" | sort -u | wc -l)" -eq 16 ]' \
  "plans 0/2 and 1/2 do not cover the 16 runs once"
check '[ ! -e "$MBENCH_RESULTS" ]' "--plan created a results directory"

# ---- two shards run: disjoint, complete, the shard in meta.json
for i in 0 1; do
  "$mb" sweep smoke "${tiny[@]}" --shard $i/2 --out "$tmp/s$i" --no-plot >"$tmp/s$i.out" 2>&1
  check '[ $? -eq 0 ]' "shard $i/2 failed: $(tail -3 "$tmp/s$i.out")"
done
check 'grep -q "shard 0 of 2: 8 of the 16 runs" "$tmp/s0.out"' "shard 0 did not say what it runs"
n=$((n+1))
if ! python3 - "$tmp" "$tmp/p0" "$tmp/p1" <<'PY'
import csv, json, sys
t = sys.argv[1]
rows = {i: list(csv.DictReader(open(f"{t}/s{i}/points.csv"))) for i in (0, 1)}
keys = {i: {(r["point"], r["kernel"]) for r in rows[i]} for i in (0, 1)}
assert len(keys[0]) == len(rows[0]) == 8 and len(keys[1]) == len(rows[1]) == 8, (len(rows[0]), len(rows[1]))
assert not keys[0] & keys[1], keys[0] & keys[1]
assert len(keys[0] | keys[1]) == 16
for i in (0, 1):  # each shard ran exactly what its plan listed
    plan = {(l.split()[0], l.split()[1]) for l in open(sys.argv[2 + i]).read().splitlines()[3:]}
    assert plan == keys[i], (i, plan ^ keys[i])
    m = json.load(open(f"{t}/s{i}/meta.json"))
    p = m["partition"]
    assert p["rule"] == "lpt-v1" and p["index"] == i and p["count"] == 2 and p["runs"] == 8 and p["total_runs"] == 16, p
    assert len(m["scenario"]["hash"]) == 16 and m["machine_type"] in m["machine_types"]
    for r in rows[i]:
        assert r["host"] and r["machine_type"] == m["machine_type"], r
h = {json.load(open(f"{t}/s{i}/meta.json"))["scenario"]["hash"] for i in (0, 1)}
assert len(h) == 1, h
PY
then fail "shard contents"; fi

# ---- a killed shard resumes as the same shard
slow=(--set seqlen=16 --set channels=8 --set "d_state=1..64*2" --set min_time=0.05 --no-plot --no-calibrate)
"$mb" sweep smoke "${slow[@]}" --shard 1/3 --out "$tmp/k" >/dev/null 2>&1 &
pid=$!
for i in $(seq 1 200); do
  [ -f "$tmp/k/points.csv" ] && [ "$(tail -n +2 "$tmp/k/points.csv" | wc -l)" -ge 1 ] && break
  sleep 0.05
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
"$mb" sweep --resume "$tmp/k" >/dev/null 2>"$tmp/k.err"; st=$?
"$mb" sweep smoke "${slow[@]}" --shard 1/3 --plan >"$tmp/kplan" 2>&1
check '[ $st -eq 0 ] && grep -qE "resuming: [1-9][0-9]* of [0-9]+ runs are done" "$tmp/k.err"' "resume of shard 1/3: $st $(grep -i resum "$tmp/k.err")"
check '[ "$(tail -n +4 "$tmp/kplan" | awk "{print \$1\",\"\$2}" | sort)" = "$(tail -n +2 "$tmp/k/points.csv" | cut -d, -f1,2 | sort)" ]' \
  "resumed shard 1/3 does not hold exactly its plan's runs"

echo "$((n-fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
