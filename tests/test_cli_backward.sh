#!/usr/bin/env bash
# tests/test_cli_backward.sh MBENCH SRC: `mbench run --direction` and the gradient check:
# bad values exit 2 with a message naming the flag; a backward/both run with --check
# reports every gradient's error in the JSON, the saved bytes and the memory of the point.
. "$(dirname "$0")/lib.sh" "$@"
printf '[scenario]\nkernels = sequential\n[run]\nlevel = layer\n' > "$tmp/bad.ini"

small=(--seqlen 16 --channels 8 --d-state 4 --min-reps 3 --min-time 0 --no-calibrate)
expect 2 '--direction: expected forward, backward or both' run sequential --direction sideways
expect 2 '--checkpoint.*out of range' run sequential --checkpoint 0
expect 2 '--direction: needs a value' run sequential --direction
expect 0 'direction=backward' run sequential "${small[@]}" --direction backward --check
expect 0 'updates: the problem.s B\*L\*D\*N per backward' run sequential "${small[@]}" --direction backward
expect 0 'updates: the problem.s B\*L\*D\*N per training step' run sequential "${small[@]}" --direction both
expect 0 'gradients .*dA' run sequential "${small[@]}" --direction both --check --h0 --h-last
expect 0 'training .*saved' run reference "${small[@]}" --direction both
# ssd: head problems only (the forward's own reason), every gradient's abs and rel error
expect 2 'scalar A per head' run ssd "${small[@]}" --direction backward
expect 0 'max_abs_err: du .*dh0' run ssd "${small[@]}" --a head --headdim 4 --chunk 5 --direction both --check --h0 --h-last
expect 0 'mamba2 block .*P=4' run ssd "${small[@]}" --level block --a head --headdim 4 --direction both --check
# the portable (no AVX-512) paths of ssd's backward, through mbench-vg, gradients checked
vg="$(dirname "$mb")/mbench-vg"
if [ -x "$vg" ]; then
  n=$((n+1))
  out=$("$vg" run ssd "${small[@]}" --seqlen 37 --channels 20 --a head --headdim 5 --groups 2 --chunk 5 \
        --direction both --check --h0 --h-last 2>&1); st=$?
  if [ "$st" -ne 0 ] || ! grep -q 'gradients' <<<"$out" || grep -q 'FAIL' <<<"$out"; then
    echo "FAIL: mbench-vg ssd --direction both --check -> $st"; echo "$out" | head -5; fails=$((fails+1))
  fi
fi
expect 2 '--level: expected scan or block' run sequential --level layer
expect 2 'one B/C group' run sequential --level block --groups 2 --channels 16
expect 0 'mamba1 block .*dm=4 di=8' run sequential "${small[@]}" --level block --direction both --check
expect 0 'mamba2 block .*P=4' run sequential "${small[@]}" --level block --a head --headdim 4 --direction backward
blk=$("$mb" run sequential "${small[@]}" --level block --a head --headdim 4 --groups 2 --direction both --json 2>/dev/null)
n=$((n+1))
if ! python3 - "$blk" <<'PY'
import json, sys
o = json.loads(sys.argv[1])
assert o["level"] == "block" and o["block"] == "mamba2" and o["d_model"] == 4 and o["d_inner"] == 8
assert o["headdim"] == 4 and o["groups"] == 2 and o["direction"] == "both" and o["status"] == "ok"
assert o["median_s"] > 0 and o["gflops"] > 0 and o["memory_bytes"] > 0
PY
then echo "FAIL: --level block --json"; fails=$((fails+1)); fi

ssdj=$("$mb" run ssd "${small[@]}" --a head --headdim 4 --groups 2 --chunk 3 --json --check --h0 --h-last --direction both 2>/dev/null)
n=$((n+1))
if ! python3 - "$ssdj" <<'PY'
import json, sys
o = json.loads(sys.argv[1])
assert o["direction"] == "both" and o["check"] == "ok" and o["status"] == "ok", o.get("reason")
for g in "du ddelta ddelta_bias dA dBm dCm dDskip dz dh0".split():
    assert o[g + "_max_abs_err"] is not None and o[g + "_max_rel_err"] < o["grad_tolerance"], g
assert o["saved_bytes"] == 0 and o["workspace_bytes"] > 0  # ssd recomputes its chunk states
PY
then echo "FAIL: ssd --json --direction both"; fails=$((fails+1)); fi

for dir in forward backward both; do
  json=$("$mb" run sequential "${small[@]}" --json --check --h0 --h-last --direction $dir 2>/dev/null)
  n=$((n+1))
  if ! python3 - "$json" "$dir" <<'PY'
import json, sys
o = json.loads(sys.argv[1]); d = sys.argv[2]
assert o["direction"] == d and o["check"] == "ok", o.get("reason")
assert o["memory_bytes"] > 0 and o["workspace_bytes"] >= 0
grads = "du ddelta ddelta_bias dA dBm dCm dDskip dz dh0".split()
if d == "forward":
    assert "du_max_rel_err" not in o and "saved_bytes" not in o
else:
    for g in grads:
        assert o[g + "_max_rel_err"] is not None and o[g + "_max_rel_err"] < o["grad_tolerance"], g
    # sequential keeps deltaA and the states: 2 x B*L*D*N floats
    assert o["saved_bytes"] == 2 * 16 * 8 * 4 * 4, o["saved_bytes"]
    assert o["memory_bytes"] > o["saved_bytes"]
PY
  then echo "FAIL: --json --direction $dir"; fails=$((fails+1)); fi
done

# a training step's bytes are forward_save's (the forward's and what saving adds: fused its
# checkpoints, saved_bytes; sequential each state written over deltaB_u, B*L*D*N floats)
# and the backward's; flops and exps the forward's and the backward's
for k in fused sequential; do
  for dir in forward backward both; do
    "$mb" run $k "${small[@]}" --min-reps 1 --json --direction $dir > "$tmp/cost_${k}_$dir.json" 2>/dev/null
  done
  n=$((n+1))
  if ! python3 - "$tmp/cost_${k}_forward.json" "$tmp/cost_${k}_backward.json" "$tmp/cost_${k}_both.json" $k <<'PY'
import json, sys
f, b, t = (json.load(open(p)) for p in sys.argv[1:4])
extra = t["saved_bytes"] if sys.argv[4] == "fused" else 4 * 16 * 8 * 4
assert t["bytes"] == f["bytes"] + b["bytes"] + extra, (t["bytes"], f["bytes"], b["bytes"], extra)
assert t["flops"] == f["flops"] + b["flops"] and t["exps"] == f["exps"] + b["exps"]
PY
  then echo "FAIL: $k --direction both bytes"; fails=$((fails+1)); fi
done

# a block-level training sweep (the mamba.py study's scenarios, --quick): level, block,
# direction and every gradient's error reach points.csv
expect 2 'level: expected scan or block' sweep "$tmp/bad.ini" --no-calibrate
expect 0 'results' sweep train_d_state --quick --no-calibrate
n=$((n+1))
if ! python3 - "$MBENCH_RESULTS" <<'PY'
import csv, glob, sys
f = sorted(glob.glob(sys.argv[1] + "/train_d_state-*/points.csv"))[-1]
rows = list(csv.DictReader(open(f)))
ok = [r for r in rows if r["status"] == "ok"]
assert {r["kernel"] for r in ok} >= {"sequential", "pscan", "fused"}, rows
for r in ok:
    assert r["level"] == "block" and r["block"] == "mamba1" and r["direction"] == "both"
    assert float(r["dA_max_rel_err"]) < float(r["grad_tolerance"]) and float(r["median_s"]) > 0
skipped = [r for r in rows if r["status"] == "skipped"]
assert all(r["reason"] for r in skipped)
PY
then echo "FAIL: train_d_state points.csv"; fails=$((fails+1)); fi

finish
