#!/usr/bin/env python3
"""Writes the tokenizer fixture: token ids for real text computed by an INDEPENDENT implementation,
Hugging Face `tokenizers` (Rust BPE), built from the vocabulary and merges that the `gguf` package reads
from the model file, with the SmolLM pre-tokenizer (Digits(individual_digits) then ByteLevel regex,
no prefix space).  The C tokenizer must reproduce these ids exactly (tests/unit/test_tokenizer.c).

Output: JSON Lines; line 1 = header {"magic":"sparsweep-tokenizer-fixture","version":1,"model_sha256":...},
then {"text": ..., "ids": [...]} per case.
Usage: gen_tokenizer_fixture.py MODEL.gguf TEXT.txt OUT.jsonl [--every N]"""
import hashlib
import json
import sys

import gguf
from tokenizers import Tokenizer, models, pre_tokenizers


def field_strings(reader, key):
    f = reader.fields[key]
    return [bytes(f.parts[i]).decode("utf-8") for i in f.data]


def build_reference(path):
    r = gguf.GGUFReader(path)
    tokens = field_strings(r, "tokenizer.ggml.tokens")
    merges = field_strings(r, "tokenizer.ggml.merges")
    vocab = {t: i for i, t in enumerate(tokens)}
    pairs = []
    for m in merges:
        cut = m.index(" ", 1)
        pairs.append((m[:cut], m[cut + 1:]))
    tk = Tokenizer(models.BPE(vocab, pairs))
    tk.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    return tk


EXTRA_CASES = [
    "Hello, we can use", "The capital of France is", "Hello world! 123", "  multiple   spaces", "\n",
    "Café déjà vu.", "I'm sure you'll say they've gone, we'd, you're; IT'S", "tabs\tand\ttabs\t\t",
    "trailing spaces   ", "   leading", "line one\nline two\n\n  indented\r\nwindows", "3.14159 + 2,718 = 5.85",
    "naïve façade — “quotes” ‘single’ …", "Ünïcödé ÅÄÖ ß", "日本語のテキスト", "emoji 😀👍🏽 ok",
    "Ⅻ ½ ² ٣ numbers", "a\u00a0b\u2003c", "$100.00!!! ???", "email@example.com http://x.y/z?q=1&r=2",
]


def main():
    model, text_path, out = sys.argv[1], sys.argv[2], sys.argv[3]
    every = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--every" else 60
    tk = build_reference(model)
    lines = open(text_path, encoding="utf-8").read().split("\n")
    cases = [l for l in lines[::every] if l.strip()]
    # Multi-line chunks exercise newline and indentation handling across pieces.
    cases += ["\n".join(lines[i:i + 7]) for i in range(1000, len(lines), len(lines) // 60)]
    cases += EXTRA_CASES
    sha = hashlib.sha256(open(model, "rb").read()).hexdigest()
    with open(out, "w", encoding="utf-8") as f:
        f.write(json.dumps({"magic": "sparsweep-tokenizer-fixture", "version": 1, "model_sha256": sha,
                            "reference": "huggingface tokenizers", "cases": len(cases)}) + "\n")
        for c in cases:
            f.write(json.dumps({"text": c, "ids": tk.encode(c).ids}, ensure_ascii=False) + "\n")
    print(f"{len(cases)} cases -> {out}")


if __name__ == "__main__":
    main()
