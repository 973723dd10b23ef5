#!/usr/bin/env python3
"""Reference fixtures for tests/unit/test_model.c, computed independently of sparsweep's C code:
  dequant.bin  every dequantiser sparsweep supports (f32, f16, bf16, q4_0, q4_1, q8_0, q6_k) on random blocks
               and on real tensors of the model, dequantised by the `gguf` package's own dequantiser;
  logits.bin   dense next-token logits of the model on several token sequences, from a float64 NumPy
               forward pass written from the formulas in docs/models.md §1 (weights read and dequantised
               by `gguf`);
  logits_native.bin  the same with every projection input rounded to 8-bit blocks of 32 first (scale
               max|x|/127, round half away from zero), the math of weights: native (kernels/sw_quant.h).
Both files start with a magic and a version (below); the C test rejects other versions with a HINT to rerun
this script.  Usage: gen_model_ref.py MODEL.gguf OUT_DIR"""
import contextlib
import hashlib
import os
import struct
import sys

import numpy as np
from gguf import GGUFReader
from gguf.constants import GGMLQuantizationType as QT
from gguf.quants import dequantize

DQ_MAGIC, LG_MAGIC, VERSION = b"SWDQ", b"SWLG", 1

# Token sequences: docs/models.md §2 test vectors plus a longer fixed pseudo-random one (seed 7).
SEQS = [
    [19556, 28, 392, 416, 722],               # "Hello, we can use"
    [504, 3575, 282, 4649, 314],              # "The capital of France is"
    [1] + list(np.random.default_rng(7).integers(17, 49152, size=23)),
]


def f16_bits(rng, n, lo=-3.0, hi=3.0):
    return rng.uniform(lo, hi, size=n).astype(np.float16).view(np.uint16)


def random_blocks(rng, qtype, n_blocks):
    """Random raw blocks whose scale fields are finite, moderate f16 values."""
    if qtype == QT.Q4_0:
        b = rng.integers(0, 256, size=(n_blocks, 18), dtype=np.uint8)
        b[:, 0:2] = f16_bits(rng, n_blocks, 0.001, 0.1).view(np.uint8).reshape(n_blocks, 2)
    elif qtype == QT.Q4_1:
        b = rng.integers(0, 256, size=(n_blocks, 20), dtype=np.uint8)
        b[:, 0:2] = f16_bits(rng, n_blocks, 0.001, 0.1).view(np.uint8).reshape(n_blocks, 2)
        b[:, 2:4] = f16_bits(rng, n_blocks, -1.0, 1.0).view(np.uint8).reshape(n_blocks, 2)
    elif qtype == QT.Q8_0:
        b = rng.integers(0, 256, size=(n_blocks, 34), dtype=np.uint8)
        b[:, 0:2] = f16_bits(rng, n_blocks, -0.05, 0.05).view(np.uint8).reshape(n_blocks, 2)
    elif qtype == QT.Q6_K:
        b = rng.integers(0, 256, size=(n_blocks, 210), dtype=np.uint8)
        b[:, 208:210] = f16_bits(rng, n_blocks, -0.01, 0.01).view(np.uint8).reshape(n_blocks, 2)
    else:
        raise ValueError(qtype)
    return b.reshape(-1)


def dequant_cases(reader):
    rng = np.random.default_rng(1234)
    cases = []
    x = rng.standard_normal(512).astype(np.float32)
    cases.append((QT.F32, x.view(np.uint8), x))
    # f16: normal values, subnormals, zeros and infinities (all exactly representable in f32)
    h = np.concatenate([rng.standard_normal(200).astype(np.float16).view(np.uint16),
                        rng.integers(1, 1024, size=40, dtype=np.uint16),                 # +subnormals
                        rng.integers(1, 1024, size=20, dtype=np.uint16) | 0x8000,        # -subnormals
                        np.array([0, 0x8000, 0x7C00, 0xFC00, 0x3C00, 0x7BFF], dtype=np.uint16)])
    cases.append((QT.F16, h.view(np.uint8), h.view(np.float16).astype(np.float32)))
    bf = (rng.standard_normal(256).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    cases.append((QT.BF16, bf.view(np.uint8), dequantize(bf.view(np.uint8), QT.BF16).reshape(-1)))
    for qt, nb in ((QT.Q4_0, 16), (QT.Q4_1, 16), (QT.Q8_0, 16), (QT.Q6_K, 4)):
        raw = random_blocks(rng, qt, nb)
        cases.append((qt, raw, dequantize(raw, qt).reshape(-1)))
    # real tensors of the model: the first rows of a q4_1 and the q8_0 embedding
    for name, rows in (("blk.0.ffn_up.weight", 4), ("token_embd.weight", 3)):
        t = next(t for t in reader.tensors if t.name == name)
        raw = np.ascontiguousarray(t.data[:rows]).reshape(-1)
        cases.append((QT(t.tensor_type), raw, dequantize(raw, QT(t.tensor_type)).reshape(-1)))
    return cases


@contextlib.contextmanager
def atomic_open(path):
    """Writes `path` through a temporary file renamed into place only when complete, so a generator killed by
    the ctest timeout never leaves a truncated fixture behind."""
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            yield f
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_dequant(path, cases):
    with atomic_open(path) as f:
        f.write(DQ_MAGIC + struct.pack("<II", VERSION, len(cases)))
        for qt, raw, ref in cases:
            raw = np.ascontiguousarray(raw, dtype=np.uint8)
            ref = np.ascontiguousarray(ref, dtype=np.float32)
            f.write(struct.pack("<III", int(qt), ref.size, raw.size))
            f.write(raw.tobytes())
            f.write(ref.tobytes())


class Model:
    """Weights as float64 arrays in [out][in] layout (GGUF row r = output r)."""

    def __init__(self, reader):
        self.kv = {}
        for f in reader.fields.values():
            if len(f.types) == 1 and f.data:
                v = f.parts[f.data[0]]
                self.kv[f.name] = bytes(v).decode() if f.types[0].name == "STRING" else v[0]
        self.t = {t.name: t for t in reader.tensors}
        a = self.kv["general.architecture"]
        self.n_layer = int(self.kv[f"{a}.block_count"])
        self.d = int(self.kv[f"{a}.embedding_length"])
        self.n_head = int(self.kv[f"{a}.attention.head_count"])
        self.n_kv = int(self.kv.get(f"{a}.attention.head_count_kv", self.n_head))
        self.hd = self.d // self.n_head
        self.theta = float(self.kv.get(f"{a}.rope.freq_base", 10000.0))
        self.eps = float(self.kv[f"{a}.attention.layer_norm_rms_epsilon"])

    def w(self, name):
        t = self.t[name]
        x = dequantize(t.data, QT(t.tensor_type)).astype(np.float64)
        return x.reshape(-1, int(t.shape[0])) if len(t.shape) > 1 else x.reshape(-1)


def rmsnorm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope(x, pos, theta):
    """x: (T, heads, hd); rotates adjacent pairs (2i, 2i+1) by pos * theta^(-2i/hd)."""
    hd = x.shape[-1]
    return rope_rates(x, pos, theta ** (-np.arange(0, hd, 2, dtype=np.float64) / hd))


def rope_rates(x, pos, inv):
    """rope() at given per-pair rates inv (radians per position)."""
    ang = pos[:, None] * inv[None, :]
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = a * c - b * s
    out[..., 1::2] = a * s + b * c
    return out


def quantize_act(x):
    """Rows of x rounded to 8-bit blocks of 32: scale max|x|/127, q = round half away from zero (float32)."""
    x32 = x.astype(np.float32).reshape(x.shape[0], -1, 32)
    amax = np.abs(x32).max(axis=-1, keepdims=True)
    inv = np.where(amax > 0, np.float32(127) / np.where(amax > 0, amax, 1), 0).astype(np.float32)
    v = (x32 * inv).astype(np.float32)
    q = np.clip(np.sign(v) * np.floor(np.abs(v) + np.float32(0.5)), -127, 127)
    d = (amax / np.float32(127)).astype(np.float32)
    return (q.astype(np.float64) * d.astype(np.float64)).reshape(x.shape)


def forward(m, W, tokens, qa=lambda x: x):
    T = len(tokens)
    x = W["emb"][tokens]                                 # (T, d)
    pos = np.arange(T, dtype=np.float64)
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(m.n_layer):
        L = W[l]
        h = qa(rmsnorm(x, L["attn_norm"], m.eps))
        q = rope((h @ L["q"].T).reshape(T, m.n_head, m.hd), pos, m.theta)
        k = rope((h @ L["k"].T).reshape(T, m.n_kv, m.hd), pos, m.theta)
        v = (h @ L["v"].T).reshape(T, m.n_kv, m.hd)
        group = m.n_head // m.n_kv
        out = np.empty((T, m.n_head, m.hd))
        for hh in range(m.n_head):
            kk, vv = k[:, hh // group], v[:, hh // group]
            sc = q[:, hh] @ kk.T / np.sqrt(m.hd) + mask
            p = np.exp(sc - sc.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            out[:, hh] = p @ vv
        x = x + qa(out.reshape(T, -1)) @ L["o"].T
        h = qa(rmsnorm(x, L["ffn_norm"], m.eps))
        g = h @ L["gate"].T
        x = x + qa((g / (1.0 + np.exp(-g))) * (h @ L["up"].T)) @ L["down"].T
    return qa(rmsnorm(x, W["out_norm"], m.eps)) @ W["out"].T


def load_weights(m):
    """Every weight of the model as float64, keyed as forward() reads them."""
    W = {"emb": m.w("token_embd.weight"), "out_norm": m.w("output_norm.weight")}
    W["out"] = m.w("output.weight") if "output.weight" in m.t else W["emb"]
    names = {"attn_norm": "attn_norm", "q": "attn_q", "k": "attn_k", "v": "attn_v", "o": "attn_output",
             "ffn_norm": "ffn_norm", "gate": "ffn_gate", "up": "ffn_up", "down": "ffn_down"}
    for l in range(m.n_layer):
        W[l] = {k: m.w(f"blk.{l}.{n}.weight") for k, n in names.items()}
    return W


def main():
    model_path, out_dir = sys.argv[1], sys.argv[2]
    reader = GGUFReader(model_path)
    write_dequant(f"{out_dir}/dequant.bin", dequant_cases(reader))
    m = Model(reader)
    W = load_weights(m)
    sha = hashlib.sha256(open(model_path, "rb").read()).hexdigest().encode()
    vocab = W["out"].shape[0]
    for name, qa in (("logits", lambda x: x), ("logits_native", quantize_act)):
        with atomic_open(f"{out_dir}/{name}.bin") as f:
            f.write(LG_MAGIC + struct.pack("<I", VERSION) + sha + struct.pack("<II", vocab, len(SEQS)))
            for seq in SEQS:
                logits = forward(m, W, np.array(seq, dtype=np.int64), qa).astype(np.float32)
                f.write(struct.pack("<I", len(seq)) + np.array(seq, dtype=np.int32).tobytes() + logits.tobytes())
    print(f"reference fixtures written to {out_dir} ({len(SEQS)} sequences, vocab {vocab})")


if __name__ == "__main__":
    main()
