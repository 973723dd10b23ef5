#!/usr/bin/env python3
"""Reference for tests/unit/test_mctask.c, computed independently of sparsweep's C code: the summed
log-probability of each choice of a multiple-choice JSONL task given its context (the lm-evaluation-harness
method), with the model's float64 NumPy forward pass (gen_model_ref.py, weights dequantised by the `gguf`
package) and token ids from Hugging Face `tokenizers` built from the model's vocabulary
(gen_tokenizer_fixture.py).  Each choice runs as one whole sequence (no KV cache reuse).  The continuation
is the tokens of context+choice after their longest common prefix with the context's own tokens.
Output JSON: {"model_sha256", "items": [{"ll": [...], "n_cont": [...], "gold": g}], "acc", "acc_norm"}.
Usage: gen_mctask_ref.py MODEL.gguf TASK.jsonl OUT.json"""
import hashlib
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_model_ref import Model, forward, load_weights  # noqa: E402
from gen_tokenizer_fixture import build_reference  # noqa: E402
from gguf import GGUFReader  # noqa: E402


def choice_ll(m, W, tk, context, choice):
    ctx = tk.encode(context).ids
    full = tk.encode(context + choice).ids
    p = 0
    while p < min(len(ctx), len(full)) and ctx[p] == full[p]:
        p += 1
    logits = forward(m, W, np.array(full, dtype=np.int64))
    mx = logits.max(axis=1, keepdims=True)
    lp = logits - mx - np.log(np.exp(logits - mx).sum(axis=1, keepdims=True))
    return float(sum(lp[t - 1, full[t]] for t in range(p, len(full)))), len(full) - p


def main():
    model_path, task_path, out_path = sys.argv[1:4]
    m = Model(GGUFReader(model_path))
    W = load_weights(m)
    tk = build_reference(model_path)
    items, right, right_norm = [], 0, 0
    for line in open(task_path, encoding="utf-8"):
        if not line.strip():
            continue
        it = json.loads(line)
        scored = [choice_ll(m, W, tk, it["context"], c) for c in it["choices"]]
        ll = [s[0] for s in scored]
        per_byte = [l / len(c.encode("utf-8")) for l, c in zip(ll, it["choices"])]
        right += int(np.argmax(ll)) == it["gold"]
        right_norm += int(np.argmax(per_byte)) == it["gold"]
        items.append({"ll": ll, "n_cont": [s[1] for s in scored], "gold": it["gold"]})
    sha = hashlib.sha256(open(model_path, "rb").read()).hexdigest()
    with open(out_path, "w") as f:
        json.dump({"model_sha256": sha, "items": items, "acc": right / len(items),
                   "acc_norm": right_norm / len(items)}, f)
    print(f"{len(items)} items -> {out_path}")


if __name__ == "__main__":
    main()
