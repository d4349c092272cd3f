#!/usr/bin/env bash
# tests/test_cli.sh MBENCH SRC: every bad input gets exit status 2 and a one-line message
# naming the problem, never a crash; the good paths print what they promise.
. "$(dirname "$0")/lib.sh" "$@"
small=(--seqlen 16 --channels 8 --d-state 4 --min-reps 3 --min-time 0 --no-calibrate)
expect 2 'unknown verb' frobnicate
expect 2 'unknown flag.*--bogus' run sequential --bogus
expect 2 '--seqlen: expected an integer' run sequential --seqlen abc
expect 2 '--seqlen.*out of range' run sequential --seqlen 0
expect 2 '--d-state.*out of range' run sequential --d-state -3
expect 2 '--channels: expected an integer' run sequential --channels 12x
expect 2 'heads.*must divide channels' run sequential --a head --heads 5 --channels 12
expect 2 'groups.*must divide heads' run sequential --a head --heads 4 --groups 3 --channels 16
expect 2 'unknown kernel "nope".*sequential' run nope
expect 2 'overflow' run sequential --batch 1000000000 --seqlen 1000000000 --channels 1000000 --d-state 1000
expect 2 'needs .* GiB' run sequential --batch 64 --seqlen 65536 --channels 4096 --d-state 64
expect 2 'which kernel' run
expect 2 '--threads.*out of range' run sequential --threads 0
expect 2 '--bind: expected' run sequential --bind sideways
expect 2 '--seqlen: needs a value' run sequential --seqlen
expect 2 'conflicts' run sequential --channels 8 --d-model 4
expect 2 'one kernel at a time' run sequential reference
expect 2 'unknown argument' info --bogus
expect 0 'usage: mbench run' run --help
expect 0 'usage: mbench' --help
expect 0 'sequential' list
expect 0 'topology' info
expect 0 'reps' run sequential "${small[@]}"
expect 0 '"median_s"' run sequential "${small[@]}" --json --check
expect 0 'speedup over 1 thread' run sequential "${small[@]}" --threads 1,2
expect 0 '"runs": \[' run sequential "${small[@]}" --threads 1,2 --json

# --json is exactly one JSON object with the stable keys
json=$("$mb" run sequential "${small[@]}" --json --check 2>/dev/null)
n=$((n+1))
if ! python3 - "$json" <<'PY'
import json, sys
o = json.loads(sys.argv[1])
keys = "kernel batch seqlen channels d_state heads groups a threads bind reps median_s ci_low_s ci_high_s min_s mean_s sd_s updates_per_s gflops gbps bound ceiling_fraction workspace_bytes max_abs_err max_rel_err check wait_share cpu_speed mem_speed disturbed".split()
missing = [k for k in keys if k not in o]
assert not missing, missing
assert o["check"] == "ok" and o["max_rel_err"] < 1e-4 and o["reps"] >= 3
assert o["min_s"] <= o["median_s"] <= o["mean_s"] * 10
assert abs(o["updates_per_s"] - 16*8*4 / o["median_s"]) < 1e-6 * o["updates_per_s"]
# the interference measures (harness/interfere.h): a share of the timed time, a speed
# ratio (null without a calibration), a verdict
assert isinstance(o["wait_share"], float) and o["wait_share"] >= 0
assert o["cpu_speed"] is None or o["cpu_speed"] > 0
assert o["mem_speed"] is None or o["mem_speed"] > 0
assert isinstance(o["disturbed"], bool)
PY
then echo "FAIL: --json keys/values"; fails=$((fails+1)); fi

# a calibration without a rate for fused's exp routine (older than the routine): fused gets
# no ceiling (not one that leaves its exps out) and says why; sequential's glibc_expf has one
mkdir -p "$tmp/cal"
cat > "$tmp/cal/calibration.json" <<'JSON'
{"date": "2026-01-01T00:00:00Z", "cpu": "test", "exp_routines": ["glibc_expf"],
 "rows": [{"threads": 1, "stream_gbps": 50, "fma_gflops": 200, "exp_per_s": {"glibc_expf": 1e9}}]}
JSON
cal_run() { MBENCH_RESULTS=$tmp/cal "$mb" run "$@" --seqlen 16 --channels 8 --d-state 4 --min-reps 3 --min-time 0; }
n=$((n+1))
out=$(cal_run fused 2>&1)
if ! grep -q "ceiling     not reported (the calibration has no rate for the kernel's exp routine" <<<"$out"; then
  echo "FAIL: fused without its exp rate: $(grep ceiling <<<"$out")"; fails=$((fails+1)); fi
n=$((n+1))
fj=$(cal_run fused --json 2>/dev/null); sj=$(cal_run sequential --json 2>/dev/null)
if ! python3 - "$fj" "$sj" <<'PY'
import json, sys
f, s = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert f["bound"] is None and f["ceiling_fraction"] is None, (f["bound"], f["ceiling_fraction"])
assert s["bound"] in ("exp", "fma", "bw") and s["ceiling_fraction"] > 0, (s["bound"], s["ceiling_fraction"])
PY
then echo "FAIL: ceilings with a partial calibration"; fails=$((fails+1)); fi

finish
