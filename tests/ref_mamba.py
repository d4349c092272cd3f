#!/usr/bin/env python3
"""tests/ref_mamba.py MODEL_DIR TOKENS.json LOGITS.bin: a second, independent implementation
of the Mamba-1 / Mamba-2 language model in plain Python (float64, no numpy), written from the
reference PyTorch code (mamba_ssm's Mamba / Mamba2 modules, HF MambaMixer / Mamba2Mixer
slow paths), step by step in time like selective_scan_ref / the step() functions. It reads
config.json (HF style) and model.safetensors (F32 / F16 / BF16) itself, and compares its
logits with mbench's LOGITS.bin (float32 [batch][length][vocab]). Small models only."""
import json
import math
import struct
import sys


def load_safetensors(path):
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == '__metadata__':
            continue
        b, end = e['data_offsets']
        buf = raw[base + b: base + end]
        count = len(buf) // {'F32': 4, 'F16': 2, 'BF16': 2}[e['dtype']]
        if e['dtype'] == 'F32':
            vals = list(struct.unpack('<%df' % count, buf))
        elif e['dtype'] == 'F16':
            vals = list(struct.unpack('<%de' % count, buf))
        else:  # bf16: the top half of an f32
            vals = [struct.unpack('<f', b'\0\0' + buf[2 * i:2 * i + 2])[0] for i in range(count)]
        out[name] = (e['shape'], vals)
    return out


def matrix(t):  # [rows][everything else]
    shape, v = t
    rows = shape[0]
    cols = len(v) // rows
    return [v[r * cols:(r + 1) * cols] for r in range(rows)]


def linear(W, x, bias=None):  # y = W x (+ b), W as rows
    y = [sum(w * xi for w, xi in zip(row, x)) for row in W]
    return [a + b for a, b in zip(y, bias)] if bias else y


def silu(x):
    return x / (1.0 + math.exp(-x))


def softplus(x):
    return x if x > 20 else math.log1p(math.exp(x))


def rmsnorm(x, w, eps):
    r = 1.0 / math.sqrt(sum(v * v for v in x) / len(x) + eps)
    return [v * r * wi for v, wi in zip(x, w)]


def run(cfg, T, tokens):
    v2 = cfg.get('model_type') == 'mamba2'
    dm, nl, N = cfg['hidden_size'], cfg['num_hidden_layers'], cfg['state_size']
    I, K, eps = cfg['intermediate_size'], cfg['conv_kernel'], cfg['layer_norm_epsilon']
    emb = matrix(T['backbone.embeddings.weight'])
    head = emb if cfg.get('tie_word_embeddings', not v2) else matrix(T['lm_head.weight'])
    L = len(tokens)
    hs = [list(emb[t]) for t in tokens]  # residual stream, [L][dm]
    for li in range(nl):
        p = 'backbone.layers.%d.' % li
        norm_w = T[p + 'norm.weight'][1]
        Win = matrix(T[p + 'mixer.in_proj.weight'])
        convw = matrix(T[p + 'mixer.conv1d.weight'])  # [C][1*K] (the middle dim is 1)
        convb = T[p + 'mixer.conv1d.bias'][1]
        Wout = matrix(T[p + 'mixer.out_proj.weight'])
        xs = [rmsnorm(h, norm_w, eps) for h in hs]
        proj = [linear(Win, x) for x in xs]  # [L][in_proj rows]
        if not v2:
            # x, z = xz.chunk(2); x = silu(conv1d(x)); x_dbl = x_proj(x); dt, B, C = split
            xin = [row[:I] for row in proj]
            z = [row[I:] for row in proj]
            conv_in, C_ch = xin, I
        else:
            # z, xBC, dt = split(zxbcdt, [d_inner, d_inner + 2 G N, nheads])
            G, H, P = cfg['n_groups'], cfg['num_heads'], cfg['head_dim']
            C_ch = I + 2 * G * N
            z = [row[:I] for row in proj]
            conv_in = [row[I:I + C_ch] for row in proj]
            dts = [row[I + C_ch:] for row in proj]
        # causal depthwise conv: out[t][c] = b[c] + sum_k w[c][k] in[t - (K-1) + k][c]
        conv = [[silu(convb[c] + sum(convw[c][k] * conv_in[t - (K - 1) + k][c]
                                     for k in range(K) if t - (K - 1) + k >= 0))
                 for c in range(C_ch)] for t in range(L)]
        y = []
        if not v2:
            Wx = matrix(T[p + 'mixer.x_proj.weight'])
            Wdt = matrix(T[p + 'mixer.dt_proj.weight'])
            bdt = T[p + 'mixer.dt_proj.bias'][1]
            A = [[-math.exp(a) for a in row] for row in matrix(T[p + 'mixer.A_log'])]
            D = T[p + 'mixer.D'][1]
            R = len(Wdt[0])
            h = [[0.0] * N for _ in range(I)]
            for t in range(L):
                xdbl = linear(Wx, conv[t])
                dt = [softplus(v) for v in linear(Wdt, xdbl[:R], bdt)]
                Bt, Ct = xdbl[R:R + N], xdbl[R + N:]
                yt = []
                for d in range(I):
                    acc = 0.0
                    for n in range(N):
                        h[d][n] = math.exp(dt[d] * A[d][n]) * h[d][n] + dt[d] * Bt[n] * conv[t][d]
                        acc += Ct[n] * h[d][n]
                    yt.append((acc + D[d] * conv[t][d]) * silu(z[t][d]))
                y.append(yt)
        else:
            A = [-math.exp(a) for a in T[p + 'mixer.A_log'][1]]
            D, dtb = T[p + 'mixer.D'][1], T[p + 'mixer.dt_bias'][1]
            gw = T[p + 'mixer.norm.weight'][1]
            lo, hi = cfg.get('time_step_limit', [0.0, math.inf])
            h = [[[0.0] * N for _ in range(P)] for _ in range(H)]
            for t in range(L):
                x, Bv, Cv = conv[t][:I], conv[t][I:I + G * N], conv[t][I + G * N:]
                yt = []
                for hh in range(H):
                    g = hh // (H // G)
                    dt = min(max(softplus(dts[t][hh] + dtb[hh]), lo), hi)
                    dA = math.exp(dt * A[hh])
                    for pp in range(P):
                        xv = x[hh * P + pp]
                        acc = 0.0
                        for n in range(N):
                            h[hh][pp][n] = dA * h[hh][pp][n] + dt * Bv[g * N + n] * xv
                            acc += Cv[g * N + n] * h[hh][pp][n]
                        yt.append(acc + D[hh] * xv)
                # gated RMSNorm, norm_before_gate=False, per group of d_inner / G channels
                gated = [v * silu(zz) for v, zz in zip(yt, z[t])]
                gs = I // G
                out = []
                for g in range(G):
                    seg = gated[g * gs:(g + 1) * gs]
                    r = 1.0 / math.sqrt(sum(v * v for v in seg) / gs + eps)
                    out += [v * r * w for v, w in zip(seg, gw[g * gs:(g + 1) * gs])]
                y.append(out)
        for t in range(L):
            o = linear(Wout, y[t])
            hs[t] = [a + b for a, b in zip(hs[t], o)]
    normf = T['backbone.norm_f.weight'][1]
    return [linear(head, rmsnorm(h, normf, eps)) for h in hs]


def main():
    d, tokfile, binfile = sys.argv[1:4]
    cfg = json.load(open(d + '/config.json'))  # Python's json reads Infinity itself
    T = load_safetensors(d + '/model.safetensors')
    batch = json.load(open(tokfile))
    ref = [v for seq in batch for row in run(cfg, T, seq) for v in row]
    raw = open(binfile, 'rb').read()
    got = struct.unpack('<%df' % (len(raw) // 4), raw)
    assert len(got) == len(ref), 'logits: %d values, expected %d' % (len(got), len(ref))
    err = max(abs(a - b) for a, b in zip(got, ref))
    scale = max(abs(b) for b in ref)
    print('python reference vs mbench: max abs %.3g, normwise rel %.3g (over %d logits)' % (err, err / scale, len(ref)))
    sys.exit(0 if err <= 1e-4 * scale else 1)


if __name__ == '__main__':
    main()
