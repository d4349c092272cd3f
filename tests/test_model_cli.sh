#!/usr/bin/env bash
# tests/test_model_cli.sh MBENCH SRC: `mbench model ...` and `mbench validate` end to end on
# the tiny presets: validate passes for both families, logits has the promised layout,
# generate is seeded, and every bad input of the issue's list exits 2 with a message
# naming the file / tensor / position, never a crash.
. "$(dirname "$0")/lib.sh" "$@"
# ---- good paths
expect 0 'all kernels agree' validate --preset tiny
expect 0 'all kernels agree' validate --preset mamba2-tiny --threads 2
expect 0 'wrote' model synth --preset tiny --out "$tmp/t1" --seed 3
expect 0 'wrote' model synth --preset mamba2-tiny --out "$tmp/t2" --dtype bf16
expect 0 'wrote' model synth --preset tiny --out "$tmp/t3" --layout original --dtype f16
expect 0 'all kernels agree' validate --model "$tmp/t2"
expect 0 'all kernels agree' validate --model "$tmp/t3"
echo '[[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]' > "$tmp/tok.json"
expect 0 'float32 \[2\]\[5\]\[256\]' model logits --model "$tmp/t1" --tokens "$tmp/tok.json" --out "$tmp/l.bin"
n=$((n+1)); size=$(stat -c %s "$tmp/l.bin" 2>/dev/null || echo 0)
[ "$size" -eq $((2*5*256*4)) ] || { echo "FAIL: logits file has $size bytes"; fails=$((fails+1)); }
# the same logits through the other kernel and through 2 threads
expect 0 'wrote' model logits --model "$tmp/t1" --tokens "$tmp/tok.json" --out "$tmp/l2.bin" --kernel reference --threads 2
n=$((n+1))
if ! python3 - "$tmp/l.bin" "$tmp/l2.bin" <<'PY'
import struct, sys
a = open(sys.argv[1], 'rb').read(); b = open(sys.argv[2], 'rb').read()
x = struct.unpack('<%df' % (len(a)//4), a); y = struct.unpack('<%df' % (len(b)//4), b)
m = max(abs(v) for v in y); e = max(abs(p - q) for p, q in zip(x, y))
assert len(x) == len(y) and e <= 1e-3 * m, (e, m)
PY
then echo "FAIL: logits of sequential vs reference differ"; fails=$((fails+1)); fi
# an independent implementation (tests/ref_mamba.py: plain Python, float64, written from the
# PyTorch reference) gives the same logits for both families; and it does notice wrong ones
echo '[[1, 200, 3, 77, 5, 9, 250, 13], [6, 7, 8, 9, 10, 11, 12, 100]]' > "$tmp/tok2.json"
for m in t1 t2; do
  "$mb" model logits --model "$tmp/$m" --tokens "$tmp/tok2.json" --out "$tmp/$m.bin" >/dev/null 2>&1
  n=$((n+1))
  python3 "$src/tests/ref_mamba.py" "$tmp/$m" "$tmp/tok2.json" "$tmp/$m.bin" || { echo "FAIL: $m vs the Python reference"; fails=$((fails+1)); }
done
n=$((n+1))
if python3 "$src/tests/ref_mamba.py" "$tmp/t2" "$tmp/tok2.json" "$tmp/t1.bin" >/dev/null 2>&1; then
  echo "FAIL: the Python reference accepted another model's logits"; fails=$((fails+1)); fi
g1=$("$mb" model generate --model "$tmp/t2" --tokens 1,2,3 --max-new 12 --temperature 0.9 --top-k 40 --top-p 0.95 --repetition-penalty 1.1 --seed 5 2>/dev/null)
g2=$("$mb" model generate --model "$tmp/t2" --tokens 1,2,3 --max-new 12 --temperature 0.9 --top-k 40 --top-p 0.95 --repetition-penalty 1.1 --seed 5 2>/dev/null)
n=$((n+1))
if ! [[ "$g1" =~ ^[0-9]+(,[0-9]+){11}$ ]] || [ "$g1" != "$g2" ]; then
  echo "FAIL: generate not 12 seeded ids: '$g1' vs '$g2'"; fails=$((fails+1)); fi
expect 0 'prefill .* tokens/s' model bench --model "$tmp/t1" --prompt-len 16 --gen 4 --kernel sequential --threads 1 --reps 2 --no-calibrate
json=$("$mb" model bench --model "$tmp/t2" --prompt-len 8 --gen 3 --kernel sequential --threads 2 --reps 2 --no-calibrate --json 2>/dev/null)
n=$((n+1))
if ! python3 - "$json" <<'PY'
import json, sys
o = json.loads(sys.argv[1])
for k in "kernel threads prompt_len gen reps prefill_median_s prefill_tokens_per_s prefill_scan_share decode_median_s decode_tokens_per_s decode_scan_share decode_weight_bytes_per_token decode_state_bytes_per_token blas_core".split():
    assert k in o, k
assert o["prompt_len"] == 8 and o["gen"] == 3 and 0 <= o["prefill_scan_share"] <= 1
assert 0 < o["decode_state_bytes_per_token"] < o["decode_weight_bytes_per_token"]
assert abs(o["prefill_tokens_per_s"] - 8 / o["prefill_median_s"]) < 1e-6 * o["prefill_tokens_per_s"]
PY
then echo "FAIL: model bench --json"; fails=$((fails+1)); fi
# --gen 0 decodes nothing: no decode time, rate or scan share (null, not the empty loop's)
json=$("$mb" model bench --model "$tmp/t2" --prompt-len 8 --gen 0 --kernel sequential --threads 1 --reps 2 --no-calibrate --json 2>/dev/null)
n=$((n+1))
if ! python3 - "$json" <<'PY'
import json, sys
o = json.loads(sys.argv[1])
assert o["gen"] == 0 and o["prefill_tokens_per_s"] > 0
for k in "decode_median_s decode_tokens_per_s decode_scan_share".split():
    assert o[k] is None, (k, o[k])
PY
then echo "FAIL: model bench --gen 0 --json"; fails=$((fails+1)); fi
for v in "model synth" "model logits" "model bench" "model generate" validate model; do
  expect 0 'usage: mbench' $v --help
done

# ---- bad input: each a clear message and exit 2
cp -r "$tmp/t1" "$tmp/bad"
bad_st="$tmp/bad/model.safetensors"
orig="$tmp/t1/model.safetensors"
craft() { # craft KIND: rewrite bad/model.safetensors from t1's
  python3 - "$orig" "$bad_st" "$1" <<'PY'
import json, struct, sys
src, dst, kind = sys.argv[1:4]
b = open(src, 'rb').read()
hl = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8+hl]); data = b[8+hl:]
names = [k for k in h if k != '__metadata__']
def out(hdr, data, hlen=None):
    t = json.dumps(hdr).encode()
    open(dst, 'wb').write(struct.pack('<Q', len(t) if hlen is None else hlen) + t + data)
if kind == 'truncated':   open(dst, 'wb').write(b[:len(b)//2])
elif kind == 'tiny':      open(dst, 'wb').write(b[:5])
elif kind == 'hdrlen':    out(h, data, hlen=10**12)
elif kind == 'json':      open(dst, 'wb').write(b[:8] + b'{"x": [1,' + b' ' * (hl - 9) + data)
elif kind == 'overlap':
    a, c = names[0], names[1]; h[c]['data_offsets'] = [h[a]['data_offsets'][0], h[a]['data_offsets'][0] + h[c]['data_offsets'][1] - h[c]['data_offsets'][0]]; out(h, data)
elif kind == 'range':
    a = names[-1]; n = h[a]['data_offsets'][1] - h[a]['data_offsets'][0]; h[a]['data_offsets'] = [len(data) - n + 64, len(data) + 64]; out(h, data)
elif kind == 'dtype':     h[names[0]]['dtype'] = 'F17'; out(h, data)
elif kind == 'missing':
    del h['backbone.layers.1.mixer.dt_proj.bias']; out(h, data)
PY
}
expect_bad() { # expect_bad KIND PATTERN
  craft "$1"
  expect 2 "$2" model logits --model "$tmp/bad" --tokens "$tmp/tok.json" --out "$tmp/x.bin"
  expect 2 "$2" validate --model "$tmp/bad"
}
expect_bad truncated 'model.safetensors.*(past the end|out of range)'
expect_bad tiny 'model.safetensors: truncated'
expect_bad hdrlen 'model.safetensors: header length 1000000000000 runs past the end'
expect_bad json 'model.safetensors: header is not valid JSON'
expect_bad overlap 'model.safetensors: tensors .* overlap'
expect_bad range 'model.safetensors: tensor .* out of range'
expect_bad dtype 'model.safetensors: tensor .* unknown dtype "F17"'
expect_bad missing 'model.safetensors: missing tensor "backbone.layers.1.mixer.dt_proj.bias"'
# shape vs config: a config with a wider state than the tensors hold
cp "$orig" "$bad_st"
sed 's/"state_size": 16/"state_size": 8/' "$tmp/t1/config.json" > "$tmp/bad/config.json"
expect 2 'model.safetensors: tensor "backbone.layers.0.mixer.x_proj.weight" has shape \[36, 128\] but config.json implies \[20, 128\]' \
  model logits --model "$tmp/bad" --tokens "$tmp/tok.json" --out "$tmp/x.bin"
echo '{"hidden_size": 64,' > "$tmp/bad/config.json"
expect 2 'config.json: invalid JSON' validate --model "$tmp/bad"
mkdir "$tmp/empty"; cp "$tmp/t1/config.json" "$tmp/empty/"
expect 2 'neither model.safetensors nor' validate --model "$tmp/empty"
expect 2 'config.json: cannot open' validate --model "$tmp/nowhere"
# token files
echo '[[1, 2, 300]]' > "$tmp/b1.json"
expect 2 'b1.json: token \[0\]\[2\] = 300 is outside the vocabulary \[0, 256\)' model logits --model "$tmp/t1" --tokens "$tmp/b1.json" --out "$tmp/x.bin"
echo '[]' > "$tmp/b2.json"
expect 2 'b2.json: empty token list' model logits --model "$tmp/t1" --tokens "$tmp/b2.json" --out "$tmp/x.bin"
echo '[[]]' > "$tmp/b3.json"
expect 2 'b3.json: sequence 0 is an empty token list' model logits --model "$tmp/t1" --tokens "$tmp/b3.json" --out "$tmp/x.bin"
echo '[[1, 2, 3], [4, 5]]' > "$tmp/b4.json"
expect 2 'b4.json: ragged batch: sequence 1 has 2 tokens but sequence 0 has 3' model logits --model "$tmp/t1" --tokens "$tmp/b4.json" --out "$tmp/x.bin"
echo '[[1, -2]]' > "$tmp/b5.json"
expect 2 'b5.json: token \[0\]\[1\] = -2 is outside' model logits --model "$tmp/t1" --tokens "$tmp/b5.json" --out "$tmp/x.bin"
echo '[[1, 2.5]]' > "$tmp/b6.json"
expect 2 'b6.json: token \[0\]\[1\] is not an integer' model logits --model "$tmp/t1" --tokens "$tmp/b6.json" --out "$tmp/x.bin"
echo '[[1, 2' > "$tmp/b7.json"
expect 2 'b7.json: ' model logits --model "$tmp/t1" --tokens "$tmp/b7.json" --out "$tmp/x.bin"
expect 2 '--tokens: token 1 = 256 is outside the vocabulary' model generate --model "$tmp/t1" --tokens 1,256 --max-new 2
expect 2 '--tokens: empty token list' model generate --model "$tmp/t1" --tokens "" --max-new 2
expect 2 '--tokens: token 1 is not an integer' model generate --model "$tmp/t1" --tokens 1,x --max-new 2
# flags
expect 2 '--preset: unknown preset "huge"' model synth --preset huge --out "$tmp/h"
expect 2 '--kernel: unknown kernel "nope"' model logits --model "$tmp/t1" --tokens "$tmp/tok.json" --out "$tmp/x.bin" --kernel nope
"$mb" list 2>/dev/null | grep -q '^ *ssd' && expect 2 'kernel ssd cannot run' model logits --model "$tmp/t1" --tokens "$tmp/tok.json" --out "$tmp/x.bin" --kernel ssd
expect 2 'one of --model DIR or --preset' validate
expect 2 'unknown argument "--bogus"' model bench --bogus
expect 2 '--prompt-len.*required' model bench --model "$tmp/t1" --gen 1 --kernel sequential --threads 1
expect 2 'unknown subcommand' model frobnicate
expect 2 '--temperature.*out of range' model generate --model "$tmp/t1" --tokens 1 --max-new 1 --temperature -1

finish
