#!/usr/bin/env bash
# tests/test_counters_cli.sh MBENCH SRC: `mbench counters` and `run --counters`: bad input
# exits 2 with the flag named; a machine without a PMU says which PAPI component is disabled
# and why, and still counts software events; the valgrind cache simulation matches counts
# worked out from the shape (a streaming call misses once per line it moves).
. "$(dirname "$0")/lib.sh" "$@"
check_py() { # check_py WHAT JSON PYTHON: runs PYTHON with o = the parsed JSON (or the path, if a file)
  n=$((n+1))
  if ! python3 -c "import json,sys,os; a=sys.argv[1]; o=a if os.path.isfile(a) else json.loads(a); $3" "$2"; then
    echo "FAIL: $1"; fails=$((fails+1))
  fi
}

small=(--seqlen 64 --channels 16 --d-state 4 --min-reps 3 --min-time 0 --no-calibrate)
expect 2 'unknown event "PAPI_NOPE"' run sequential "${small[@]}" --counters PAPI_NOPE
expect 2 '--counters: needs a value' run sequential --counters
expect 2 '--counter-reps.*out of range' run sequential --counter-reps 0
expect 2 'unknown flag "--bogus"' counters sequential --bogus
expect 2 'which kernel' counters
# what is counted is the scan, and --sim simulates its forward: refused rather than silently other
expect 2 'counters count the scan alone: not with --level block' run sequential "${small[@]}" --level block --counters default
expect 2 'counters: --level block: counters count the scan alone' counters sequential --seqlen 64 --level block
expect 2 'sim simulates the scan.s forward only' counters sequential --seqlen 64 --sim --direction both
expect 2 'unknown kernel "nope"' counters nope
expect 2 '--cold and --ll apply to --sim only' counters sequential --cold
expect 2 '--ll: expected' counters sequential --sim --ll 12
expect 2 'power-of-two number of sets' counters sequential --sim --ll 100000,8,64
expect 2 'one --threads value' counters sequential --sim --threads 1,2
expect 0 'usage: mbench counters' counters --help
expect 0 'counters that work here' info
expect 0 'task-clock' counters sequential --seqlen 64 --channels 16 --d-state 4

# the unavailable path: which component and PAPI's own reason, and the run goes on
info=$("$mb" info --json 2>/dev/null)
if python3 -c "import json,sys; sys.exit(0 if json.loads(sys.argv[1])['counters']['papi']['available'] else 1)" "$info"; then
  expect 0 'PAPI_TOT_CYC' run sequential "${small[@]}" --counters PAPI_TOT_CYC,task-clock
else
  expect 0 'PAPI_TOT_CYC unavailable: PAPI component [a-z_]+ is disabled: .+' run sequential "${small[@]}" --counters PAPI_TOT_CYC,task-clock
fi
json=$("$mb" run sequential "${small[@]}" --counters default --json 2>/dev/null)
check_py "run --counters --json: stable keys, software events counted" "$json" '
c = o["counters"]
assert c["reps"] >= 1 and c["threads"] == 1
ev = {e["name"]: e for e in c["events"]}
assert set(ev) >= {"PAPI_TOT_CYC", "PAPI_L3_TCM", "task-clock", "page-faults"}, ev.keys()
for e in ev.values():
    assert set(e) >= {"name", "source", "available", "total", "per_update", "unit"}, e
    if not e["available"]: assert e["reason"] and e["total"] is None
tc = ev["task-clock"]
if tc["available"]:
    assert 0 < tc["total"] < 100 * o["max_s"] * 1e9, tc
    assert abs(tc["per_update"] - tc["total"] / o["updates"]) < 1e-9 * tc["total"]
if not c["papi"]["available"]: assert "disabled" in c["papi"]["reason"] or c["papi"]["reason"]
assert set(c["derived"]) >= {"ipc", "llc_misses_per_update", "bytes_per_update"}
'

# ---- the cache simulation against counts worked out from the shape
if ! command -v valgrind >/dev/null; then
  echo "valgrind not installed: the simulation checks cannot run"; fails=$((fails+1))
else
  # B=1 L=256 D=64 N=16, diag, bias, dskip, z: tensors u, delta, z, y [L][D]; bias, Dskip [D];
  # A [D][N]; Bm, Cm [L][N]; the sequential kernel's workspace is 2 x [L][D][N] floats.
  shape=(--seqlen 256 --channels 64 --d-state 16)
  L=256; D=64; N=16
  tensors=$(( (4*L*D + 2*D + D*N + 2*L*N) * 4 ))
  ws=$(( 2*L*D*N*4 ))
  # cold: the simulated caches start empty and the hwloc LL holds everything: every line the
  # call touches misses once in LL (the inputs, the workspace, the output)
  cold=$("$mb" counters sequential "${shape[@]}" --sim --cold --json 2>/dev/null)
  check_py "cold call: LL misses = distinct lines touched (+-10%)" "$cold" "
s = o['sim']; want = ($tensors + $ws) / s['geometry']['LL']['line']
got = s['ll_read_misses']['total'] + s['ll_write_misses']['total']
print('cold: LL data misses %d, lines touched %d (%.1f%%)' % (got, want, 100 * (got / want - 1)))
assert abs(got / want - 1) < 0.10
assert s['serialised'] and s['threads'] == 1 and s['instructions']['total'] > 0
assert abs(s['instructions']['per_update'] * s['updates'] - s['instructions']['total']) < 1
"
  # warm, with a 256 KiB LL that the 2.4 MiB footprint overflows: the call streams its inputs
  # once, writes the workspace once and reads it back once, and every line of that misses
  warm=$("$mb" counters sequential "${shape[@]}" --sim --ll 256K,8,64 --threads 2 --json 2>/dev/null)
  check_py "streaming call: LL misses = bytes moved / line (+-10%)" "$warm" "
s = o['sim']; want = ($tensors + 2 * $ws) / 64
got = s['ll_read_misses']['total'] + s['ll_write_misses']['total']
print('warm: LL data misses %d, lines streamed %d (%.1f%%)' % (got, want, 100 * (got / want - 1)))
assert abs(got / want - 1) < 0.10
assert s['threads'] == 2 and s['geometry']['LL']['bytes'] == 262144
# the workspace written back once: write-backs ~ workspace lines
wb = s['ll_writebacks']['total']; assert abs(wb / ($ws / 64) - 1) < 0.15, wb
"
  expect 0 'valgrind runs the threads one at a time|run one at a time' counters sequential --seqlen 16 --channels 8 --d-state 4 --sim --threads 2
  expect 0 'LL \(hwloc L[234]\)' counters sequential --seqlen 16 --channels 8 --d-state 4 --sim
fi

# ---- mbench-vg (no AVX-512: the kernels' portable paths) must compute what mbench does:
# every kernel against the oracle on diag and head problems up to N = 256
vg=$(dirname "$mb")/mbench-vg
if [ -x "$vg" ]; then
  for k in $("$mb" list | awk '/^kernels:/{on=1;next} /^[a-z]/{on=0} on && /^  [a-z]/{print $1}' | sort -u); do
    [ "$k" = reference ] && continue
    for a in diag head; do for N in 16 256; do
      n=$((n+1))
      out=$("$vg" run "$k" --seqlen 64 --channels 64 --a $a --d-state $N --check --min-reps 1 --min-time 0 --no-calibrate 2>&1); st=$?
      if ! { [ $st -eq 0 ] && grep -q "check  *ok" <<<"$out"; } && ! { [ $st -eq 2 ] && grep -q "cannot run" <<<"$out"; }; then
        echo "FAIL: mbench-vg run $k --a $a --d-state $N --check -> $st"; echo "$out" | tail -3; fails=$((fails+1))
      fi
    done; done
  done
else
  echo "FAIL: $vg not built"; fails=$((fails+1))
fi

# ---- sweeps: `counters =` and `sim = yes` in a scenario add columns to points.csv
expect 2 'counters: .*unknown event "PAPI_NOPE"' sweep smoke --quick --set counters=PAPI_NOPE --no-calibrate
expect 2 'sim: expected true or false' sweep smoke --quick --set sim=maybe --no-calibrate
expect 2 '--ll: expected' sweep smoke --quick --sim --set sim_ll=huge --no-calibrate
out=$(mktemp -d)/sweep
if "$mb" sweep smoke --quick --set d_state=2,8 --kernels sequential,fused --sim --set counters=task-clock,PAPI_L3_TCM \
     --out "$out" --no-calibrate >/dev/null 2>&1; then
  check_py "sweep with sim and counters: points.csv columns" "$out/points.csv" "
import csv
rows = [r for r in csv.DictReader(open(o)) if r['status'] == 'ok']
assert len(rows) == 4, len(rows)
for r in rows:
    assert r['sim'] == 'ok', r['sim']
    assert float(r['sim_instructions']) > 0 and float(r['sim_ll_misses_per_update']) >= 0
    assert abs(float(r['sim_instructions_per_update']) * float(r['updates']) - float(r['sim_instructions'])) < 1e-6 * float(r['sim_instructions'])
    assert r['counters'] == 'task-clock,PAPI_L3_TCM'
    assert float(r['cnt_task_clock']) > 0
    papi = r['cnt_papi_l3_tcm'] != ''
    assert papi or 'PAPI_L3_TCM unavailable' in r['counters_unavailable'], r['counters_unavailable']
"
  [ -s "$out/plots/d_state-counters.png" ] || { echo "FAIL: no counters plot"; fails=$((fails+1)); }
  n=$((n+1))
  "$mb" plot "$out" >/dev/null 2>&1 && [ -s "$out/plots/d_state-counters.svg" ] || { echo "FAIL: mbench plot: no counters plot"; fails=$((fails+1)); }
  n=$((n+1))
else
  echo "FAIL: sweep with --sim and counters"; fails=$((fails+1)); n=$((n+1))
fi
rm -rf "$(dirname "$out")"

finish
