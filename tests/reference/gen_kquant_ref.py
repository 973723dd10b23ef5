#!/usr/bin/env python3
"""Reference files for tests/unit/test_kquant.c, written with the `gguf` package (0.19.0) and NumPy only:
  kquant_blocks.gguf  for each of q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k: tensor `q.<type>` holding blocks
                      (Q5_0/Q5_1: random normal floats quantised by the package; K-quants, which the package
                      cannot quantise: random bytes with finite f16 scales) and tensor `ref.<type>` (f32) with
                      the package's own dequantisation of those blocks.
  kquant_model.gguf   a tiny random Llama (2 layers, d 256, ff 512, 4 heads / 2 KV heads of 64, vocab 320)
                      whose matrices mix the types of a Q4_K_M-style file (q4_k, q6_k, q5_0 ...) and of the
                      other K-quants, so every new type passes through the f32 model loader.
  kquant_logits.bin   the dense logits of kquant_model.gguf on a fixed token sequence from the float64 NumPy
                      forward of gen_model_ref.py.  Layout: b"SWKL", u32 version, u32 T, u32 vocab, i32 tok[T],
                      f32 logits[T][vocab].
  kquant_model_iq.gguf  the same model with blk.1.attn_k.weight in iq4_nl (unsupported: must be refused naming
                      the tensor and the type).
  rope_llama3.gguf / rope_freqs.gguf / rope_yarn.gguf / rope_longrope.gguf  the same model with Llama 3.1 RoPE
                      scaling keys, with a rope_freqs.weight tensor plus linear scaling, with YaRN keys, and with the
                      unsupported type "longrope";
  rope_ref.bin        b"SWRP", u32 version (2), u32 pairs, u32 T; f64 rates of rope_llama3 and of rope_freqs
                      (NumPy, float64), i32 tok[T], f32 logits of rope_llama3 [T][vocab] with and without scaling;
                      then f64 rates of rope_yarn, f64 its attention factor, f32 logits of rope_yarn [T][vocab].
Usage: gen_kquant_ref.py OUT_DIR"""
import os
import struct
import sys

import numpy as np
from gguf import GGUFReader, GGUFWriter
from gguf.constants import GGMLQuantizationType as QT
from gguf.quants import dequantize, quantize

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_model_ref import Model, forward  # noqa: E402  (the float64 forward, shared)

LG_MAGIC, VERSION = b"SWKL", 1
ROPE_VERSION = 2
BLOCK = {QT.Q5_0: (32, 22), QT.Q5_1: (32, 24), QT.Q2_K: (256, 84), QT.Q3_K: (256, 110), QT.Q4_K: (256, 144),
         QT.Q5_K: (256, 176), QT.Q6_K: (256, 210), QT.IQ4_NL: (32, 18)}
# Byte offsets of the f16 scale fields of each K-quant block and the range their values are drawn from,
# chosen so the dequantised weights are O(0.1) (ggml-common.h block layouts, docs/models.md §2).
K_SCALES = {QT.Q2_K: ((80, 2e-3, 4e-3), (82, 1e-3, 3e-3)), QT.Q3_K: ((108, 5e-4, 1e-3),),
            QT.Q4_K: ((0, 1e-4, 3e-4), (2, 1e-4, 3e-4)), QT.Q5_K: ((0, 5e-5, 1.5e-4), (2, 1e-4, 3e-4)),
            QT.Q6_K: ((208, 1e-5, 3e-5),), QT.IQ4_NL: ((0, 1e-3, 3e-3),)}


def quant_rows(rng, qtype, rows, cols):
    """rows x cols weights of a type as raw blocks (uint8 rows x row_bytes)."""
    bs, nbytes = BLOCK[qtype]
    if qtype in (QT.Q5_0, QT.Q5_1):
        return quantize((rng.standard_normal((rows, cols)) * 0.05).astype(np.float32), qtype)
    nb = rows * cols // bs
    raw = rng.integers(0, 256, size=(nb, nbytes), dtype=np.uint8)
    for off, lo, hi in K_SCALES[qtype]:
        sign = rng.choice([-1.0, 1.0], size=nb) if qtype in (QT.Q3_K, QT.Q6_K) else 1.0
        raw[:, off:off + 2] = (rng.uniform(lo, hi, size=nb) * sign).astype(np.float16).view(np.uint8).reshape(nb, 2)
    return raw.reshape(rows, -1)


def write_blocks(path, rng):
    w = GGUFWriter(path, "kquant-test")
    for qtype in (QT.Q5_0, QT.Q5_1, QT.Q2_K, QT.Q3_K, QT.Q4_K, QT.Q5_K, QT.Q6_K):
        raw = quant_rows(rng, qtype, 3, 512)
        name = qtype.name.lower()
        w.add_tensor(f"q.{name}", raw, raw_dtype=qtype)
        w.add_tensor(f"ref.{name}", dequantize(raw, qtype).astype(np.float32).reshape(3, 512))
    finish(w)


def finish(w):
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# Q4_K_M-style assignment (attn_v and ffn_down one step up) in layer 0; the other types in layer 1.
LAYER_TYPES = [
    {"attn_q": QT.Q4_K, "attn_k": QT.Q5_0, "attn_v": QT.Q6_K, "attn_output": QT.Q4_K, "ffn_gate": QT.Q4_K,
     "ffn_up": QT.Q4_K, "ffn_down": QT.Q6_K},
    {"attn_q": QT.Q2_K, "attn_k": QT.Q3_K, "attn_v": QT.Q5_K, "attn_output": QT.Q5_1, "ffn_gate": QT.Q3_K,
     "ffn_up": QT.Q2_K, "ffn_down": QT.Q5_K},
]
D, FF, HEADS, KV, VOCAB = 256, 512, 4, 2, 320


def write_model(path, seed, override=None, extra=None):
    rng = np.random.default_rng(seed)
    w = GGUFWriter(path, "llama")
    if extra:
        extra(w)
    w.add_block_count(len(LAYER_TYPES))
    w.add_context_length(256)
    w.add_embedding_length(D)
    w.add_feed_forward_length(FF)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tensor("token_embd.weight", quant_rows(rng, QT.Q6_K, VOCAB, D), raw_dtype=QT.Q6_K)
    w.add_tensor("output_norm.weight", (1.0 + 0.1 * rng.standard_normal(D)).astype(np.float32))
    shapes = {"attn_q": (D, D), "attn_k": (KV * 64, D), "attn_v": (KV * 64, D), "attn_output": (D, D),
              "ffn_gate": (FF, D), "ffn_up": (FF, D), "ffn_down": (D, FF)}
    for layer, types in enumerate(LAYER_TYPES):
        for norm in ("attn_norm", "ffn_norm"):
            w.add_tensor(f"blk.{layer}.{norm}.weight", (1.0 + 0.1 * rng.standard_normal(D)).astype(np.float32))
        for fam, qtype in types.items():
            name = f"blk.{layer}.{fam}.weight"
            qtype = (override or {}).get(name, qtype)
            w.add_tensor(name, quant_rows(rng, qtype, *shapes[fam]), raw_dtype=qtype)
    finish(w)


def reference_logits(model_path):
    m = Model(GGUFReader(model_path))
    W = {"emb": m.w("token_embd.weight"), "out_norm": m.w("output_norm.weight")}
    W["out"] = W["emb"]
    names = {"attn_norm": "attn_norm", "q": "attn_q", "k": "attn_k", "v": "attn_v", "o": "attn_output",
             "ffn_norm": "ffn_norm", "gate": "ffn_gate", "up": "ffn_up", "down": "ffn_down"}
    for layer in range(m.n_layer):
        W[layer] = {k: m.w(f"blk.{layer}.{n}.weight") for k, n in names.items()}
    tokens = np.random.default_rng(5).integers(0, VOCAB, size=24)
    return tokens, forward(m, W, tokens).astype(np.float32)


def write_logits(model_path, out_path):
    tokens, logits = reference_logits(model_path)
    with open(out_path, "wb") as f:
        f.write(LG_MAGIC + struct.pack("<III", VERSION, len(tokens), VOCAB))
        f.write(tokens.astype("<i4").tobytes() + logits.astype("<f4").tobytes())


# RoPE scaling: rope_dim 64, theta 10000; Llama 3.1's scheme with a short original context (32) so that most
# pairs are rescaled within the test's 24 positions; a rope_freqs.weight tensor combined with linear scaling.
ROPE = {"factor": 8.0, "low": 1.0, "high": 4.0, "orig": 32}
ROPE_FREQS = np.random.default_rng(3).uniform(1.0, 8.0, size=32).astype(np.float32)
ROPE_LINEAR = 2.0


def llama3_rates(theta, dim, factor, low, high, orig):
    """Llama 3.1's inv_freq in float64, written after the Hugging Face transformers formulation
    (_compute_llama3_parameters): where-masks over the wavelengths."""
    inv = theta ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
    wavelen = 2 * np.pi / inv
    low_wl, high_wl = orig / low, orig / high
    scaled = np.where(wavelen > low_wl, inv / factor, inv)
    smooth = (orig / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_wl) & ~(wavelen > low_wl)
    return np.where(medium, smoothed, scaled)


# YaRN: factor 4 over an original context of 256 (the model's), beta_fast 8 so the ramp starts after pair 5, and
# an attn_factor of 0.9 on top of the paper's 0.1 ln(s) + 1.
YARN = {"factor": 4.0, "orig": 256, "beta_fast": 8.0, "beta_slow": 1.0, "attn_factor": 0.9}


def yarn_rates(theta, dim, factor, orig, beta_fast, beta_slow):
    """YaRN's inv_freq in float64 (Peng et al. 2023, arXiv 2309.00071, NTK-by-parts), written after the Hugging Face
    transformers formulation (_compute_yarn_parameters, truncate=True): a ramp linear in the pair index between
    floor(dim at beta_fast rotations) and ceil(dim at beta_slow rotations)."""
    def pair_at(rot):
        return dim * np.log(orig / (rot * 2 * np.pi)) / (2 * np.log(theta))
    low, high = max(np.floor(pair_at(beta_fast)), 0), min(np.ceil(pair_at(beta_slow)), dim - 1)
    if low == high:
        high += 0.001
    pos_freqs = theta ** (np.arange(0, dim, 2, dtype=np.float64) / dim)
    extrapolation, interpolation = 1.0 / pos_freqs, 1.0 / (factor * pos_freqs)
    ramp = np.clip((np.arange(dim // 2, dtype=np.float64) - low) / (high - low), 0, 1)
    keep = 1 - ramp
    return interpolation * (1 - keep) + extrapolation * keep


def yarn_attn_factor(factor, attn_factor):
    """sqrt(1/t) = 0.1 ln(s) + 1 (YaRN eq. 22), times the GGUF attn_factor as ggml's rope applies it."""
    return attn_factor * (0.1 * np.log(factor) + 1.0 if factor > 1 else 1.0)


def write_rope(out):
    def llama3_keys(w):
        w.add_string("llama.rope.scaling.type", "llama3")
        w.add_float32("llama.rope.scaling.factor", ROPE["factor"])
        w.add_float32("llama.rope.scaling.low_freq_factor", ROPE["low"])
        w.add_float32("llama.rope.scaling.high_freq_factor", ROPE["high"])
        w.add_uint32("llama.rope.scaling.original_context_length", ROPE["orig"])

    def freqs_tensor(w):
        w.add_string("llama.rope.scaling.type", "linear")
        w.add_float32("llama.rope.scaling.factor", ROPE_LINEAR)
        w.add_tensor("rope_freqs.weight", ROPE_FREQS)

    write_model(f"{out}/rope_llama3.gguf", 21, extra=llama3_keys)
    write_model(f"{out}/rope_freqs.gguf", 21, extra=freqs_tensor)
    def yarn_keys(w):
        w.add_string("llama.rope.scaling.type", "yarn")
        w.add_float32("llama.rope.scaling.factor", YARN["factor"])
        w.add_uint32("llama.rope.scaling.original_context_length", YARN["orig"])
        w.add_float32("llama.rope.scaling.yarn_beta_fast", YARN["beta_fast"])
        w.add_float32("llama.rope.scaling.attn_factor", YARN["attn_factor"])

    write_model(f"{out}/rope_yarn.gguf", 21, extra=yarn_keys)
    write_model(f"{out}/rope_longrope.gguf", 21,
                extra=lambda w: w.add_string("llama.rope.scaling.type", "longrope"))
    import gen_model_ref
    base = 10000.0 ** (-np.arange(0, 64, 2, dtype=np.float64) / 64)
    r_llama3 = llama3_rates(10000.0, 64, ROPE["factor"], ROPE["low"], ROPE["high"], ROPE["orig"])
    r_freqs = base / ROPE_LINEAR / ROPE_FREQS.astype(np.float64)
    unscaled = reference_logits(f"{out}/rope_llama3.gguf")[1]
    gen_model_ref.rope = lambda x, pos, theta: gen_model_ref.rope_rates(x, pos, r_llama3)
    tokens, scaled = reference_logits(f"{out}/rope_llama3.gguf")
    r_yarn = yarn_rates(10000.0, 64, YARN["factor"], YARN["orig"], YARN["beta_fast"], YARN["beta_slow"])
    m_yarn = yarn_attn_factor(YARN["factor"], np.float64(np.float32(YARN["attn_factor"])))
    gen_model_ref.rope = lambda x, pos, theta: m_yarn * gen_model_ref.rope_rates(x, pos, r_yarn)
    yarn_logits = reference_logits(f"{out}/rope_yarn.gguf")[1]
    with open(f"{out}/rope_ref.bin", "wb") as f:
        f.write(b"SWRP" + struct.pack("<III", ROPE_VERSION, 32, len(tokens)))
        f.write(r_llama3.astype("<f8").tobytes() + r_freqs.astype("<f8").tobytes())
        f.write(tokens.astype("<i4").tobytes() + scaled.astype("<f4").tobytes() + unscaled.astype("<f4").tobytes())
        f.write(r_yarn.astype("<f8").tobytes() + struct.pack("<d", m_yarn) + yarn_logits.astype("<f4").tobytes())


def main():
    out = sys.argv[1]
    write_blocks(f"{out}/kquant_blocks.gguf", np.random.default_rng(13))
    write_model(f"{out}/kquant_model.gguf", 21)
    write_logits(f"{out}/kquant_model.gguf", f"{out}/kquant_logits.bin")
    write_model(f"{out}/kquant_model_iq.gguf", 21, {"blk.1.attn_k.weight": QT.IQ4_NL})
    write_rope(out)
    print(f"k-quant reference files written to {out}")


if __name__ == "__main__":
    main()
