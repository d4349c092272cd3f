#!/usr/bin/env bash
# tests/test_cluster.sh MBENCH SRC: sharded sweeps and merging them (docs/cluster.md), on
# this machine, without Slurm: --shard validation and --plan; two shards of the smoke
# scenario together hold every run exactly once and record their shard; a killed shard
# resumes as the same shard; then `mbench merge`: the merged directory equals the union,
# fits are recomputed and `mbench plot` draws it; identical duplicates are kept once; a
# conflicting duplicate, shards of another scenario or partition, and a second machine
# type (faked by editing a copy's meta.json and rows) are refused with exit status 2
# naming the point, the directories and which part of the machine type differs (machine,
# commit or build flags), unless --allow-mixed keeps the series apart.
. "$(dirname "$0")/lib.sh" "$@"
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
check '[ $st -eq 0 ] && grep -q "^plan: smoke, shard 0 of 2 (rule lpt-v2): 8 of 16 runs" "$tmp/p0"' "plan 0/2: $(head -2 "$tmp/p0")"
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
    assert p["rule"] == "lpt-v2" and p["index"] == i and p["count"] == 2 and p["runs"] == 8 and p["total_runs"] == 16, p
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

# ---- merge the two shards: the union, fits recomputed, mbench plot draws it
m=$tmp/merged
"$mb" merge "$tmp/s0" "$tmp/s1" --out "$m" --no-plot >"$tmp/m.out" 2>&1; st=$?
check '[ $st -eq 0 ] && grep -q "merged 2 directories (2 of 2 shards): 16 rows" "$tmp/m.out"' "merge: $st $(tail -3 "$tmp/m.out")"
check 'grep -q "16 of the scenario.s 16 runs are in the merge" "$tmp/m.out"' "merge did not count the runs"
for f in points.csv samples.csv meta.json fits.csv scenario.ini; do check '[ -s "$m/$f" ]' "merged $f missing"; done
n=$((n+1))
if ! python3 - "$tmp" <<'PY'
import csv, json, sys, collections
t = sys.argv[1]
src = {}
for i in (0, 1):
    for r in csv.DictReader(open(f"{t}/s{i}/points.csv")):
        src[(r["point"], r["kernel"])] = r
rows = list(csv.DictReader(open(f"{t}/merged/points.csv")))
assert len(rows) == 16 and {(r["point"], r["kernel"]) for r in rows} == set(src)
for r in rows:
    assert r == src[(r["point"], r["kernel"])], r["point"]
assert [int(r["order"]) for r in rows] == sorted(int(r["order"]) for r in rows)
smp = list(csv.DictReader(open(f"{t}/merged/samples.csv")))
want = sum(len(list(csv.DictReader(open(f"{t}/s{i}/samples.csv")))) for i in (0, 1))
assert len(smp) == want, (len(smp), want)
reps = collections.Counter((s["point"], s["kernel"]) for s in smp)
for r in rows:
    assert reps.get((r["point"], r["kernel"]), 0) == int(r["reps"] or 0)
m = json.load(open(f"{t}/merged/meta.json"))
assert m["mbench"] == "merge" and m["status"] == "complete", m["status"]
assert m["partition"]["merged"] == [0, 1] and m["partition"]["missing"] == []
assert len(m["sources"]) == 2 and all("machine" in s and "calibration" in s for s in m["sources"])
assert len(m["machine_types"]) == 1 and not m["mixed_machines"]
fits = list(csv.DictReader(open(f"{t}/merged/fits.csv")))
assert {f["kernel"] for f in fits} == {r["kernel"] for r in rows if r["status"] == "ok"}, fits
assert all(f["n"] == "4" and f["axis"] == "d_state" for f in fits), fits
PY
then fail "merged contents"; fi
"$mb" plot "$m" >"$tmp/mp.out" 2>&1; st=$?
check '[ $st -eq 0 ] && [ -s "$m/plots/d_state-time.png" ] && [ -s "$m/plots/d_state-time.svg" ]' "plot of the merge: $st $(tail -2 "$tmp/mp.out")"
expect 2 'holds a merge' sweep --resume "$m"
expect 2 'already holds a sweep' merge "$tmp/s0" "$tmp/s1" --out "$m"

# ---- identical duplicates are kept once (a copy, or a directory given twice)
cp -r "$tmp/s0" "$tmp/s0copy"
"$mb" merge "$tmp/s0" "$tmp/s1" "$tmp/s0copy" "$tmp/s1" --out "$tmp/dup" --no-plot >"$tmp/d.out" 2>&1; st=$?
check '[ $st -eq 0 ] && grep -q "16 rows, .* 8 runs found twice identically" "$tmp/d.out" && grep -q "given twice: merged once" "$tmp/d.out"' \
  "identical duplicates: $st $(cat "$tmp/d.out")"
check 'cmp -s "$m/points.csv" "$tmp/dup/points.csv" && cmp -s "$m/samples.csv" "$tmp/dup/samples.csv"' "a duplicate changed the merge"

# ---- a run measured twice differently is refused: which point, which directories
cp -r "$tmp/s1" "$tmp/s1x"
python3 - "$tmp/s1x/points.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
r = next(r for r in rows if r["status"] == "ok")
r["median_s"] = repr(float(r["median_s"]) * 1.5)
w = csv.DictWriter(open(sys.argv[1], "w", newline=""), fieldnames=rows[0].keys(), lineterminator="\n")
w.writeheader(); w.writerows(rows)
PY
read -r cp ck < <(python3 -c "
import csv; r=next(r for r in csv.DictReader(open('$tmp/s1x/points.csv')) if r['status']=='ok'); print(r['point'], r['kernel'])")
expect 2 "point $cp \(.*\) kernel $ck was measured twice with different results: in $tmp/s1 and in $tmp/s1x \(median_s" \
  merge "$tmp/s0" "$tmp/s1" "$tmp/s1x" --out "$tmp/conflict"
check '[ ! -e "$tmp/conflict" ]' "a refused merge wrote its directory"

# ---- a second machine type (a copy whose meta.json and rows say another CPU)
fake_type() { # fake_type SRC DST TYPE KEY VALUE: a copy of SRC whose machine (KEY = VALUE) is type TYPE
  cp -r "$1" "$2"
  python3 - "$2" "$3" "$4" "$5" <<'PY'
import csv, json, sys
d, t, key, value = sys.argv[1:5]
m = json.load(open(f"{d}/meta.json"))
mach = dict(m["machine"]); mach[key] = value; mach["hostname"] = "node-b"
m["machine"] = mach; m["machine_type"] = t; m["machine_types"] = {t: mach}
json.dump(m, open(f"{d}/meta.json", "w"), indent=2)
rows = list(csv.DictReader(open(f"{d}/points.csv")))
for r in rows: r["machine_type"] = t; r["host"] = "node-b"
w = csv.DictWriter(open(f"{d}/points.csv", "w", newline=""), fieldnames=rows[0].keys(), lineterminator="\n")
w.writeheader(); w.writerows(rows)
PY
}
fake_type "$tmp/s1" "$tmp/s1m" 00000000000fa4e0 cpu "Fake CPU 9000"
expect 2 "two machine types in one plot \(axis d_state\|\).*$tmp/s[01]m? on .*$tmp/s[01]m? on .*--allow-mixed" \
  merge "$tmp/s0" "$tmp/s1m" --out "$tmp/mixed"
# the message says which part of the machine type differs, and what to do about it
expect 2 'they differ in the machine \(cpu "[^"]*" vs "[^"]*"\); merge one machine type' merge "$tmp/s0" "$tmp/s1m" --out "$tmp/mixed"
check '! "$mb" merge "$tmp/s0" "$tmp/s1m" --out "$tmp/mixed" 2>&1 | grep -q "the commit\|the build flags"' \
  "a CPU difference reported as a commit or build difference"
fake_type "$tmp/s1" "$tmp/s1c" 00000000000c0417 git_commit 0123456789abcdef0123
expect 2 "they differ in the commit \([0-9a-f]{12,40}(-dirty)? vs [0-9a-f]{12,40}(-dirty)?\); the same machine under two mbench builds: rerun" \
  merge "$tmp/s0" "$tmp/s1c" --out "$tmp/mixed"
check '"$mb" merge "$tmp/s0" "$tmp/s1c" --out "$tmp/mixed" 2>&1 | grep -q "0123456789ab"' "the commit message does not name the other commit"
fake_type "$tmp/s1" "$tmp/s1f" 00000000000f1a95 flags "-O0 -fno-inline"
expect 2 'they differ in the build flags \(flags "[^"]*" vs "[^"]*"\); the same machine under two mbench builds' \
  merge "$tmp/s0" "$tmp/s1f" --out "$tmp/mixed"
check '[ ! -e "$tmp/mixed" ]' "a refused mixed merge wrote its directory"
"$mb" merge "$tmp/s0" "$tmp/s1m" --out "$tmp/mixed" --allow-mixed >"$tmp/x.out" 2>&1; st=$?
check '[ $st -eq 0 ] && grep -q "2 machine types: their rows are kept apart" "$tmp/x.out"' "--allow-mixed: $st $(tail -3 "$tmp/x.out")"
n=$((n+1))
if ! python3 - "$tmp/mixed" <<'PY'
import csv, json, sys
d = sys.argv[1]
m = json.load(open(f"{d}/meta.json"))
assert m["mixed_machines"] and len(m["machine_types"]) == 2, m["machine_types"].keys()
assert m["machine_types"]["00000000000fa4e0"]["cpu"] == "Fake CPU 9000"
rows = list(csv.DictReader(open(f"{d}/points.csv")))
types = {r["machine_type"] for r in rows}
assert len(types) == 2
fits = list(csv.DictReader(open(f"{d}/fits.csv")))
assert fits and all("machine_type=" in f["group"] for f in fits), [f["group"] for f in fits]
for f in fits:  # each fit uses one machine type's rows only
    t = f["group"].split("machine_type=")[1]
    mine = [r for r in rows if r["kernel"] == f["kernel"] and r["machine_type"] == t and r["status"] == "ok"]
    assert int(f["n"]) == len(mine), (f, len(mine))
PY
then fail "--allow-mixed contents"; fi
check 'ls "$tmp/mixed/plots" | grep -q "machine_type-00000000000fa4e0-time.png"' "no plot per machine type: $(ls "$tmp/mixed/plots")"
check 'grep -q "Fake CPU 9000" "$tmp/mixed/plots/"*machine_type-00000000000fa4e0.vars.gp' "the fake machine's plot is not titled with its CPU"
sed -i 's/00000000000fa4e0"/00000000000fa4e1"/' "$tmp/s1m/meta.json"
expect 2 "machine type 00000000000fa4e0, which .*machine_types does not describe" merge "$tmp/s0" "$tmp/s1m" --out "$tmp/mixed2"

# ---- other scenarios and partitions are refused; a missing shard is a warning
"$mb" sweep smoke "${tiny[@]}" --set seqlen=8 --shard 1/2 --out "$tmp/other" --no-plot >/dev/null 2>&1
expect 2 "$tmp/s0 and $tmp/other are sweeps of different scenarios" merge "$tmp/s0" "$tmp/other" --out "$tmp/o"
cp -r "$tmp/s1" "$tmp/s1p"
python3 -c "
import json, sys; p='$tmp/s1p/meta.json'; m=json.load(open(p)); m['partition']['count']=3; json.dump(m, open(p,'w'))"
expect 2 "s1p is shard 1/3 .* is shard 0/2 .*one partition" merge "$tmp/s0" "$tmp/s1p" --out "$tmp/o"
"$mb" merge "$tmp/s0" --out "$tmp/half" --no-plot >"$tmp/h.out" 2>&1; st=$?
check '[ $st -eq 0 ] && grep -q "shards missing: 1 of 2" "$tmp/h.out" && grep -q "8 of the scenario.s 16 runs are in no input" "$tmp/h.out"' \
  "merge of one shard: $st $(cat "$tmp/h.out")"
check 'grep -q "\"status\": \"incomplete\"" "$tmp/half/meta.json"' "an incomplete merge is not marked incomplete"

# ---- bad input
expect 2 'which directories' merge --out "$tmp/o"
expect 2 '--out DIR is required' merge "$tmp/s0"
expect 2 'no-such-dir' merge "$tmp/no-such-dir" --out "$tmp/o"
expect 2 'not a sweep directory' merge "$tmp" --out "$tmp/o"
expect 2 'unknown flag "--bogus"' merge "$tmp/s0" --out "$tmp/o" --bogus
expect 0 'usage: mbench merge' merge --help
check '[ ! -e "$tmp/o" ]' "a refused merge created --out"

# ---- scripts/slurm-sweep without Slurm: --dry-run shows the jobs; bad options exit 2
ss=$src/scripts/slurm-sweep
"$ss" smoke --shards 3 --out "$tmp/ss" --mbench "$mb" --set seqlen=16 --partition=p1 --dry-run >"$tmp/ss.out" 2>&1; st=$?
check '[ $st -eq 0 ] && grep -q -- "--array=0-2 --exclusive .*--partition=p1 .*shard.sh" "$tmp/ss.out"' "dry run: $st $(tail -3 "$tmp/ss.out")"
check 'grep -q -- "--dependency=afterok:ARRAY_JOB_ID .*merge.sh" "$tmp/ss.out"' "dry run: no dependent merge job"
check 'grep -q -- "sweep smoke --set seqlen=16 --shard \"\$i/3\"" "$tmp/ss/slurm/shard.sh" && bash -n "$tmp/ss/slurm/shard.sh" && bash -n "$tmp/ss/slurm/merge.sh"' \
  "job scripts: $(cat "$tmp/ss/slurm/shard.sh")"
"$ss" smoke --shards 2 --out "$tmp/ss2" --mbench "$mb" --cores 0-1 --dry-run >"$tmp/ss2.out" 2>&1
check 'grep -q "exec taskset -c 0-1 " "$tmp/ss2/slurm/shard.sh" && grep -q -- "--exclusive" "$tmp/ss2.out"' "--cores: $(cat "$tmp/ss2.out" | tail -2)"
"$ss" smoke --shards 2 --out "$tmp/ss3" --mbench "$mb" --cpus 4 --dry-run >"$tmp/ss3.out" 2>&1
check 'grep -q "srun --ntasks=1 --cpus-per-task=4 --cpu-bind=cores" "$tmp/ss3/slurm/shard.sh" && ! grep -q -- "--exclusive" "$tmp/ss3.out"' "--cpus: $(tail -2 "$tmp/ss3.out")"
for bad in "--shards 0" "--shards x" "--cpus 0" "--cores a-b" "--cores 0 --cpus 2"; do
  n=$((n+1)); o=$("$ss" smoke $bad --mbench "$mb" --out "$tmp/ssb" --dry-run 2>&1); s=$?
  [ $s -eq 2 ] && grep -q "^slurm-sweep: " <<<"$o" || fail "slurm-sweep $bad -> $s: $o"
done
n=$((n+1)); o=$("$ss" no-such-scenario --mbench "$mb" --dry-run 2>&1); s=$?
[ $s -eq 2 ] && grep -q "no-such-scenario.ini" <<<"$o" || fail "slurm-sweep no-such-scenario -> $s: $o"
check '"$ss" --help | grep -q "usage: scripts/slurm-sweep"' "slurm-sweep --help"

finish
