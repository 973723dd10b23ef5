#!/usr/bin/env python3
"""Reference fixture for tests/unit/test_quant.c, computed independently of sparsweep's C code:
  quant.bin  matrix-vector products y = deq(W) . x in float64, where deq is the `gguf` package's own
             dequantiser, for random Q4_0 / Q4_1 / Q8_0 matrices and for real tensors of the model.
The C test quantises x to 8-bit blocks, runs its integer kernels on the raw blocks and checks |y - y_ref|
against the activation-rounding bound.  Layout (little-endian): magic b"SWQG", u32 version, u32 cases; per
case u32 type, u32 rows, u32 cols, raw block bytes (rows * row_bytes), f32 x[cols], f64 y[rows].
Usage: gen_quant_ref.py MODEL.gguf OUT_DIR"""
import struct
import sys

import numpy as np
from gguf import GGUFReader
from gguf.constants import GGMLQuantizationType as QT
from gguf.quants import dequantize

MAGIC, VERSION = b"SWQG", 1
BLOCK_BYTES = {QT.Q4_0: 18, QT.Q4_1: 20, QT.Q8_0: 34}


def random_matrix(rng, qtype, rows, cols):
    nb = rows * cols // 32
    b = rng.integers(0, 256, size=(nb, BLOCK_BYTES[qtype]), dtype=np.uint8)
    b[:, 0:2] = rng.uniform(0.001, 0.05, size=nb).astype(np.float16).view(np.uint8).reshape(nb, 2)
    if qtype == QT.Q4_1:
        b[:, 2:4] = rng.uniform(-0.2, 0.2, size=nb).astype(np.float16).view(np.uint8).reshape(nb, 2)
    return b.reshape(rows, -1)


def case(out, qtype, raw, x):
    rows = raw.shape[0]
    cols = raw.shape[1] // BLOCK_BYTES[qtype] * 32
    w = dequantize(raw, qtype).astype(np.float64).reshape(rows, cols)
    y = w @ x.astype(np.float64)
    out.append(struct.pack("<III", int(qtype), rows, cols) + raw.tobytes() + x.astype("<f4").tobytes()
               + y.astype("<f8").tobytes())


def main():
    model, out_dir = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(16)
    cases = []
    for qtype in (QT.Q4_0, QT.Q4_1, QT.Q8_0):
        case(cases, qtype, random_matrix(rng, qtype, 37, 96), rng.standard_normal(96).astype(np.float32))
    reader = GGUFReader(model)
    tensors = {t.name: t for t in reader.tensors}
    for name, rows in (("blk.0.ffn_gate.weight", 64), ("blk.0.ffn_down.weight", 24), ("token_embd.weight", 40)):
        t = tensors[name]
        raw = np.ascontiguousarray(np.asarray(t.data)[:rows])
        cols = raw.shape[1] // BLOCK_BYTES[t.tensor_type] * 32
        case(cases, t.tensor_type, raw, rng.standard_normal(cols).astype(np.float32))
    with open(f"{out_dir}/quant.bin", "wb") as f:
        f.write(MAGIC + struct.pack("<II", VERSION, len(cases)) + b"".join(cases))


if __name__ == "__main__":
    main()
