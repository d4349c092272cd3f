#!/usr/bin/env bash
# tests/test_sweep.sh MBENCH SRC: `mbench sweep` and `mbench plot` end to end on tiny
# shapes: CSV columns and row counts, meta.json, fits, plots (gnuplot's exit status
# checked by mbench, images non-empty), a missing/failing gnuplot keeping the CSVs,
# SIGKILL mid-run then --resume (right row count, no duplicates, no orphan samples),
# SIGINT stopping cleanly, and bad scenarios rejected before anything runs.
. "$(dirname "$0")/lib.sh" "$@"
mkdir -p "$MBENCH_RESULTS"

# a quick calibration (2 s), so ceiling fractions and their plot are there
"$mb" calibrate --quick >/dev/null 2>&1 || fail "mbench calibrate --quick"
# tiny shapes, short timing: the whole file runs in seconds
tiny=(--set seqlen=16 --set channels=8 --set min_time=0.001)

# ---- a smoke sweep: files, columns, row counts
out=$tmp/smoke
"$mb" sweep smoke "${tiny[@]}" --out "$out" >"$tmp/stdout" 2>"$tmp/stderr"; st=$?
check '[ $st -eq 0 ]' "smoke sweep exit status $st: $(tail -3 "$tmp/stderr")"
for f in points.csv samples.csv meta.json fits.csv scenario.ini; do
  check '[ -s "$out/$f" ]' "missing $f"
done
check 'grep -q "^\[1/[0-9]*\] .*ETA" "$tmp/stderr"' "no plain progress lines on a non-tty stderr"
check 'grep -q "t ~ d_state^" "$tmp/stdout"' "fitted exponents not printed"
n=$((n+1))
if ! python3 - "$out" "$mb" <<'PY'
import csv, json, sys, collections, subprocess
d, mb = sys.argv[1], sys.argv[2]
pts = list(csv.DictReader(open(f"{d}/points.csv")))
kernels = [l.split()[0] for l in subprocess.run([mb, "list"], capture_output=True, text=True).stdout.split("kernels:")[1].split("exp routines:")[0].splitlines()[1::2] if l.strip()]
kernels = [k for k in kernels if k]
run = subprocess.run([mb, "list"], capture_output=True, text=True).stdout
timed = [l.split()[0] for l in run.split("kernels:")[1].split("exp routines:")[0].splitlines() if l.startswith("  ") and not l.startswith("   ") and "[oracle]" not in l]
npoints = 4  # smoke: d_state = 2, 4, 8, 16
assert len(pts) == npoints * len(timed), (len(pts), npoints, timed)
keys = collections.Counter((p["point"], p["kernel"]) for p in pts)
assert max(keys.values()) == 1, "duplicate rows"
# columns named as `mbench run --json` keys
js = json.loads(subprocess.run([mb, "run", "sequential", "--seqlen", "16", "--channels", "8", "--d-state", "4",
                                "--min-reps", "6", "--min-time", "0", "--no-calibrate", "--json", "--check"],
                               capture_output=True, text=True).stdout)
cols = pts[0].keys()
for k in ["kernel", "status", "batch", "seqlen", "channels", "d_state", "threads", "reps", "median_s", "ci_low_s",
          "ci_high_s", "min_s", "mean_s", "sd_s", "cv", "updates_per_s", "gflops", "gbps", "bound",
          "ceiling_fraction", "max_rel_err", "check", "point", "noisy", "order", "wait_share", "cpu_speed",
          "mem_speed", "disturbed"]:
    assert k in cols, k
shared = [k for k in js if k in cols]
assert len(shared) >= 30, shared
for p in pts:
    assert p["status"] in ("ok", "skipped", "failed"), p["status"]
    if p["status"] == "ok":
        assert p["check"] == "ok" and float(p["max_rel_err"]) < 1e-4
        assert int(p["reps"]) >= 6 and float(p["ci_low_s"]) <= float(p["median_s"]) <= float(p["ci_high_s"])
        assert p["noisy"] == ("true" if float(p["cv"]) > 0.05 else "false")
        w, sp, ms = float(p["wait_share"]), float(p["cpu_speed"] or "nan"), float(p["mem_speed"] or "nan")
        assert w >= 0 and p["disturbed"] == ("true" if w > 0.05 or sp < 0.8 else "false"), p
        assert not ms <= 0, p
    else:
        assert p["reason"], p
        if p["status"] == "skipped" and "memory budget" not in p["reason"]:
            # never sized, counted, allocated or run: empty, not zeros
            for k in ["flops", "exps", "bytes", "workspace_bytes", "memory_bytes", "first_touch_s", "disturbed"]:
                assert p[k] == "", (k, p[k])
    assert p["updates"] == str(int(p["batch"]) * int(p["seqlen"]) * int(p["channels"]) * int(p["d_state"])), p
assert any(p["status"] == "skipped" for p in pts)  # ssd on diag
assert sorted(int(p["order"]) for p in pts) == list(range(len(pts)))
# samples: one row per timed repetition
smp = list(csv.DictReader(open(f"{d}/samples.csv")))
want = sum(int(p["reps"] or 0) for p in pts if p["status"] == "ok")
assert len(smp) == want, (len(smp), want)
assert list(smp[0].keys()) == ["point", "kernel", "threads", "rep", "seconds"]
meta = json.load(open(f"{d}/meta.json"))
for k in ["machine", "calibration", "scenario", "runs", "start_utc", "end_utc", "status"]:
    assert k in meta, k
assert meta["status"] == "complete" and meta["scenario"]["axes"] == ["d_state"]
assert "git_commit" in meta["machine"] and "cpu" in meta["machine"]
assert "seqlen=16" in " ".join(meta["runs"][0]["command_line"])
fits = list(csv.DictReader(open(f"{d}/fits.csv")))
assert {f["kernel"] for f in fits} == {p["kernel"] for p in pts if p["status"] == "ok"}, fits
PY
then fail "smoke sweep CSV/meta contents"; fi

# ---- plots: produced, non-empty, PNG and SVG; mbench checked gnuplot's exit status
for f in d_state-time d_state-ceiling; do
  check '[ -s "$out/plots/$f.png" ] && [ -s "$out/plots/$f.svg" ]' "plot $f missing or empty"
  check 'head -c 8 "$out/plots/$f.png" | od -An -c | grep -q "P   N   G"' "$f.png is not a PNG"
  check 'grep -q "<svg" "$out/plots/$f.svg"' "$f.svg is not an SVG"
done
rm -f "$out"/plots/*.png "$out"/plots/*.svg
"$mb" plot "$out" >"$tmp/plot.out" 2>&1; st=$?
check '[ $st -eq 0 ] && [ -s "$out/plots/d_state-time.png" ]' "mbench plot did not redraw: $(cat "$tmp/plot.out")"
check '[ "$(grep -c png "$tmp/plot.out")" -ge 2 ]' "mbench plot lists its images"

# ---- gnuplot missing or failing: a clear error, exit 1, the CSVs untouched
sum_before=$(md5sum "$out/points.csv" "$out/samples.csv")
MBENCH_GNUPLOT=$tmp/no-such-gnuplot "$mb" plot "$out" >"$tmp/e" 2>&1; st=$?
check '[ $st -eq 1 ] && grep -q "cannot run gnuplot" "$tmp/e"' "missing gnuplot: status $st: $(cat "$tmp/e")"
MBENCH_GNUPLOT=false "$mb" plot "$out" >"$tmp/e" 2>&1; st=$?
check '[ $st -eq 1 ] && grep -q "gnuplot (false) failed" "$tmp/e"' "failing gnuplot: status $st: $(cat "$tmp/e")"
MBENCH_GNUPLOT=false "$mb" sweep smoke "${tiny[@]}" --out "$tmp/nogp" >"$tmp/e" 2>&1; st=$?
check '[ $st -eq 1 ] && grep -q "CSVs in .* are kept" "$tmp/e" && [ -s "$tmp/nogp/points.csv" ]' "sweep with failing gnuplot: $st"
check '[ "$sum_before" = "$(md5sum "$out/points.csv" "$out/samples.csv")" ]' "plot touched the CSVs"

# ---- SIGKILL mid-run, then --resume: every point once, samples consistent
res=$tmp/resume
slow=(--set seqlen=16 --set channels=8 --set "d_state=1..64*2" --set min_time=0.06 --no-plot)
"$mb" sweep smoke "${slow[@]}" --out "$res" >/dev/null 2>&1 &
pid=$!
for i in $(seq 1 200); do   # wait until at least 2 points are on disk
  rows=$( [ -f "$res/points.csv" ] && tail -n +2 "$res/points.csv" | wc -l || echo 0)
  [ "$rows" -ge 2 ] && break
  sleep 0.05
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
rows_killed=$(tail -n +2 "$res/points.csv" | wc -l)
total=$(( 7 * $(tail -n +2 "$out/points.csv" | wc -l) / 4 ))
check '[ "$rows_killed" -ge 2 ] && [ "$rows_killed" -lt "$total" ]' "kill landed at $rows_killed of $total rows"
"$mb" sweep --resume "$res" >"$tmp/r.out" 2>"$tmp/r.err"; st=$?
check '[ $st -eq 0 ]' "resume exit status $st: $(tail -3 "$tmp/r.err")"
check 'grep -q "resuming: $rows_killed of $total runs are done" "$tmp/r.err"' "resume did not report: $(grep resum "$tmp/r.err")"
n=$((n+1))
if ! python3 - "$res" "$total" <<'PY'
import csv, json, sys, collections
d, total = sys.argv[1], int(sys.argv[2])
pts = list(csv.DictReader(open(f"{d}/points.csv")))
assert len(pts) == total, (len(pts), total)
c = collections.Counter((p["point"], p["kernel"]) for p in pts)
assert max(c.values()) == 1, [k for k, v in c.items() if v > 1]
smp = list(csv.DictReader(open(f"{d}/samples.csv")))
reps = {(p["point"], p["kernel"]): int(p["reps"] or 0) for p in pts}
got = collections.Counter((s["point"], s["kernel"]) for s in smp)
for k, r in reps.items():
    assert got.get(k, 0) == r, (k, got.get(k, 0), r)
assert sum(got.values()) == sum(reps.values())
meta = json.load(open(f"{d}/meta.json"))
assert meta["status"] == "complete" and len(meta["runs"]) == 2, meta["runs"]
PY
then fail "resumed sweep contents"; fi
"$mb" sweep --resume "$res" >/dev/null 2>"$tmp/r2.err"; st=$?
check '[ $st -eq 0 ] && grep -q "0 to do" "$tmp/r2.err"' "resuming a complete sweep should do nothing"

# ---- SIGINT: the point in flight finishes, exit 130, resumable
int=$tmp/int
"$mb" sweep smoke "${slow[@]}" --out "$int" >/dev/null 2>"$tmp/i.err" &
pid=$!
for i in $(seq 1 200); do
  [ -f "$int/points.csv" ] && [ "$(tail -n +2 "$int/points.csv" | wc -l)" -ge 1 ] && break
  sleep 0.05
done
kill -INT $pid; wait $pid; st=$?
check '[ $st -eq 130 ] && grep -q "continue with: mbench sweep --resume" "$tmp/i.err"' "SIGINT: status $st"
check 'python3 -c "import json,sys; assert json.load(open(sys.argv[1]))[\"status\"] == \"interrupted\"" "$int/meta.json"' "meta after SIGINT"
check '[ ! -e "$int/points.csv.tmp" ] && [ ! -e "$int/samples.csv.tmp" ]' "temporary files left behind"

# ---- bad input: exit 2 before anything runs, one line naming the problem
printf '[shape]\nd_state = 4\nd_stat = 4\n' > "$tmp/bad.ini"
expect 2 'bad.ini:3: unknown key "d_stat"' sweep "$tmp/bad.ini"
printf '[scenario]\nkernels = warp\n' > "$tmp/bad.ini"
expect 2 'bad.ini:2: kernels: unknown kernel "warp"' sweep "$tmp/bad.ini"
expect 2 'no-such-scenario.ini' sweep no-such-scenario
# the cache simulation runs the scan's forward: not on rows that time a training step or a block
printf '[scenario]\nkernels = sequential\n[shape]\nseqlen = 16\nchannels = 8\n[run]\nsim = true\ndirection = both\n' > "$tmp/bad.ini"
expect 2 'bad.ini:7: sim simulates the scan.s forward only.*direction = both' sweep "$tmp/bad.ini" --no-calibrate
printf '[scenario]\nkernels = sequential\n[shape]\nseqlen = 16\nchannels = 8\n[run]\nsim = true\nlevel = block\n' > "$tmp/bad.ini"
expect 2 'sim simulates the scan.s forward only.*level = block' sweep "$tmp/bad.ini" --no-calibrate
printf '[scenario]\nkernels = sequential\n[shape]\nseqlen = 16\nchannels = 8\n[run]\ncounters = default\nlevel = block\n' > "$tmp/bad.ini"
expect 2 'counters: counters count the scan alone: not with level = block|counters count the scan alone' sweep "$tmp/bad.ini" --no-calibrate
expect 2 '--set d_state=x: d_state: expected integers' sweep smoke --set d_state=x
expect 2 'unknown kernel "nope"' sweep smoke --kernels nope
expect 2 'takes no NAME' sweep smoke --resume "$res"
expect 2 'already holds a sweep.*--resume' sweep smoke "${tiny[@]}" --out "$out"
expect 2 'which scenario' sweep
expect 2 'unknown flag "--bogus"' sweep smoke --bogus
expect 2 'which results directory' plot
expect 2 'points.csv' plot "$tmp/nothing-here"
expect 0 'usage: mbench sweep' sweep --help
expect 0 'usage: mbench plot' plot --help
check '[ -z "$(ls "$MBENCH_RESULTS" | grep -v calibration.json)" ]' "a rejected sweep created a results directory"

finish
