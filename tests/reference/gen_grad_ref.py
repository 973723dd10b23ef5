#!/usr/bin/env python3
"""Reference gradients for tests/unit/test_llama_grad.c, computed independently of sparsweep's C code by
automatic differentiation (the `autograd` package) of a float64 NumPy forward pass written from the formulas
in docs/models.md §1 (RMSNorm, adjacent-pair RoPE, causal grouped-query attention, SwiGLU FFN, tied output,
cross-entropy).  The gradients are taken with respect to zero perturbations added to every layer's FFN
intermediate activation h = SiLU(gate)·up and attention-head output (the o_proj input), which equals dLoss/dh
and dLoss/d(head output).

  gen_grad_ref.py random OUT_DIR        writes OUT_DIR/grad_tiny.gguf, a random 2-layer f32 model with GQA
                                        (seed 11), and OUT_DIR/grad_tiny.bin, its reference for one window;
  gen_grad_ref.py model MODEL OUT_DIR   writes OUT_DIR/grad_model.bin for MODEL (weights dequantised by `gguf`)
                                        on one window of 24 tokens.

Fixture: magic SWGR, version, L, T, d_ff, q_dim, vocab (u32 each), tokens (T i32), labels (T i32), loss (f64),
logits (T x vocab f64), dLoss/dh (L x T x d_ff f64), dLoss/d(head output) (L x T x q_dim f64)."""
import struct
import sys

import autograd.numpy as anp
import numpy as np
from autograd import grad

MAGIC, VERSION = b"SWGR", 1


def rmsnorm(x, w, eps):
    return x / anp.sqrt(anp.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope(x, theta):
    """x: (T, heads, hd); rotates adjacent pairs (2i, 2i+1) by t * theta^(-2i/hd)."""
    T, nh, hd = x.shape
    inv = theta ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
    ang = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    a, b = x[..., 0::2], x[..., 1::2]
    return anp.reshape(anp.stack([a * c - b * s, a * s + b * c], axis=-1), (T, nh, hd))


class Cfg:
    def __init__(self, L, d, dff, H, Hkv, V, theta, eps):
        self.L, self.d, self.dff, self.H, self.Hkv, self.V = L, d, dff, H, Hkv, V
        self.hd, self.theta, self.eps = d // H, theta, eps


def attention(c, h, L):
    T = h.shape[0]
    q = rope(anp.reshape(h @ L["q"].T, (T, c.H, c.hd)), c.theta)
    k = rope(anp.reshape(h @ L["k"].T, (T, c.Hkv, c.hd)), c.theta)
    v = anp.reshape(h @ L["v"].T, (T, c.Hkv, c.hd))
    mask = np.triu(np.full((T, T), -np.inf), 1)
    group = c.H // c.Hkv
    heads = []
    for hh in range(c.H):
        sc = q[:, hh] @ k[:, hh // group].T / np.sqrt(c.hd) + mask
        p = anp.exp(sc - anp.max(sc, axis=1, keepdims=True))
        p = p / anp.sum(p, axis=1, keepdims=True)
        heads.append(p @ v[:, hh // group])
    return anp.concatenate(heads, axis=1)          # (T, H*hd)


def loss_fn(c, W, tokens, labels, eps_h, eps_a, logits_out=None):
    x = W["emb"][tokens]
    for l in range(c.L):
        L = W[l]
        att = attention(c, rmsnorm(x, L["attn_norm"], c.eps), L) + eps_a[l]
        x = x + att @ L["o"].T
        hn = rmsnorm(x, L["ffn_norm"], c.eps)
        g = hn @ L["gate"].T
        hact = g / (1.0 + anp.exp(-g)) * (hn @ L["up"].T) + eps_h[l]
        x = x + hact @ L["down"].T
    logits = rmsnorm(x, W["out_norm"], c.eps) @ W["emb"].T
    if logits_out is not None:
        logits_out.append(logits)
    mx = anp.max(logits, axis=1, keepdims=True)
    lse = anp.log(anp.sum(anp.exp(logits - mx), axis=1)) + mx[:, 0]
    sel = labels >= 0
    picked = logits[np.arange(len(tokens))[sel], labels[sel]]
    return anp.mean(lse[sel] - picked)


def reference(c, W, tokens, labels):
    T, qd = len(tokens), c.H * c.hd
    eh, ea = np.zeros((c.L, T, c.dff)), np.zeros((c.L, T, qd))
    out = []
    loss = loss_fn(c, W, tokens, labels, eh, ea, out)
    g_h = grad(lambda e: loss_fn(c, W, tokens, labels, e, ea))(eh)
    g_a = grad(lambda e: loss_fn(c, W, tokens, labels, eh, e))(ea)
    return float(loss), np.asarray(out[0]), g_h, g_a


def write_fixture(path, c, tokens, labels, loss, logits, g_h, g_a):
    T = len(tokens)
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<6I", VERSION, c.L, T, c.dff, c.H * c.hd, c.V))
        f.write(np.asarray(tokens, dtype=np.int32).tobytes() + np.asarray(labels, dtype=np.int32).tobytes())
        f.write(struct.pack("<d", loss))
        for a in (logits, g_h, g_a):
            f.write(np.ascontiguousarray(a, dtype=np.float64).tobytes())


def random_model(out_dir):
    """A 2-layer model with grouped-query attention, f32 tensors, tied output; returns (cfg, weights)."""
    from gguf import GGUFWriter
    c = Cfg(L=2, d=32, dff=48, H=4, Hkv=2, V=64, theta=10000.0, eps=1e-5)
    rng = np.random.default_rng(11)
    qd, kvd = c.H * c.hd, c.Hkv * c.hd

    def mat(rows, cols, scale=1.0):
        return (rng.standard_normal((rows, cols)) * scale / np.sqrt(cols)).astype(np.float32)

    W = {"emb": mat(c.V, c.d, np.sqrt(c.d) * 0.5), "out_norm": (1 + 0.1 * rng.standard_normal(c.d)).astype(np.float32)}
    w = GGUFWriter(f"{out_dir}/grad_tiny.gguf", "llama")
    for key, val in (("block_count", c.L), ("embedding_length", c.d), ("feed_forward_length", c.dff),
                     ("attention.head_count", c.H), ("attention.head_count_kv", c.Hkv), ("context_length", 64)):
        w.add_uint32(f"llama.{key}", val)
    w.add_float32("llama.rope.freq_base", c.theta)
    w.add_float32("llama.attention.layer_norm_rms_epsilon", c.eps)
    w.add_tensor("token_embd.weight", W["emb"])
    w.add_tensor("output_norm.weight", W["out_norm"])
    for l in range(c.L):
        L = {"attn_norm": (1 + 0.1 * rng.standard_normal(c.d)).astype(np.float32), "q": mat(qd, c.d, 2.0),
             "k": mat(kvd, c.d, 2.0), "v": mat(kvd, c.d), "o": mat(c.d, qd),
             "ffn_norm": (1 + 0.1 * rng.standard_normal(c.d)).astype(np.float32), "gate": mat(c.dff, c.d, 2.0),
             "up": mat(c.dff, c.d), "down": mat(c.d, c.dff)}
        names = {"attn_norm": "attn_norm", "q": "attn_q", "k": "attn_k", "v": "attn_v", "o": "attn_output",
                 "ffn_norm": "ffn_norm", "gate": "ffn_gate", "up": "ffn_up", "down": "ffn_down"}
        for k, n in names.items():
            w.add_tensor(f"blk.{l}.{n}.weight", L[k])
        W[l] = L
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    W64 = {k: (v.astype(np.float64) if isinstance(v, np.ndarray) else {kk: vv.astype(np.float64)
                                                                      for kk, vv in v.items()}) for k, v in W.items()}
    tokens = rng.integers(0, c.V, size=12)
    labels = np.concatenate([tokens[1:], [-1]])
    labels[3] = -1                       # an unscored position inside the window
    return c, W64, tokens, labels


def real_model(path):
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from gguf import GGUFReader
    from gen_model_ref import Model
    m = Model(GGUFReader(path))
    vocab = int(m.t["token_embd.weight"].shape[1])
    c = Cfg(L=m.n_layer, d=m.d, dff=int(m.t["blk.0.ffn_gate.weight"].shape[1]), H=m.n_head, Hkv=m.n_kv, V=vocab,
            theta=m.theta, eps=m.eps)
    W = {"emb": m.w("token_embd.weight"), "out_norm": m.w("output_norm.weight")}
    names = {"attn_norm": "attn_norm", "q": "attn_q", "k": "attn_k", "v": "attn_v", "o": "attn_output",
             "ffn_norm": "ffn_norm", "gate": "ffn_gate", "up": "ffn_up", "down": "ffn_down"}
    for l in range(c.L):
        W[l] = {k: m.w(f"blk.{l}.{n}.weight") for k, n in names.items()}
    tokens = np.array([1] + list(np.random.default_rng(5).integers(17, 49152, size=23)), dtype=np.int64)
    labels = np.concatenate([tokens[1:], [-1]])
    return c, W, tokens, labels


def main():
    if sys.argv[1] == "random":
        out = sys.argv[2]
        c, W, tokens, labels = random_model(out)
        path = f"{out}/grad_tiny.bin"
    else:
        out = sys.argv[3]
        c, W, tokens, labels = real_model(sys.argv[2])
        path = f"{out}/grad_model.bin"
    loss, logits, g_h, g_a = reference(c, W, np.asarray(tokens), np.asarray(labels))
    write_fixture(path, c, tokens, labels, loss, logits, g_h, g_a)
    print(f"{path}: L={c.L} T={len(tokens)} loss={loss:.6f}")


if __name__ == "__main__":
    main()
