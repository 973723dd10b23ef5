#!/usr/bin/env python3
"""Reference files for tests/unit/test_tokenizer_kinds.c: small vocabularies trained here on the Austen text,
written into GGUF files with the `gguf` package, and the token ids the reference libraries give for real text.
  llama_bpe.gguf / llama_bpe.bin  a byte-level BPE trained with Hugging Face `tokenizers` under Llama 3's
        pre-tokenizer (Split on the Llama 3 regex, isolated, then ByteLevel without its own regex; BPE with
        ignore_merges as in Llama 3's tokenizer.json); GGUF tokenizer.ggml.model "gpt2", pre "llama-bpe".
  spm.gguf / spm.bin  a SentencePiece BPE trained with the `sentencepiece` package (identity normalisation,
        dummy prefix, byte fallback, as Llama 2's tokenizer.model); GGUF tokenizer.ggml.model "llama" with
        tokens, scores and token types.  Skipped (no files) when `sentencepiece` is not installed.
  unsupported.gguf  tokenizer.ggml.model "rwkv": must be refused with an error naming it.
Case file layout (little-endian): b"SWTK", u32 version, u32 cases; per case u32 text bytes, text, u32 n_ids,
i32 ids[n_ids].
Usage: gen_tokenizer_kinds_ref.py AUSTEN.txt OUT_DIR"""
import json
import os
import struct
import sys

import gguf
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_kquant_ref import finish  # noqa: E402  (writes a GGUFWriter's file)
from gen_tokenizer_fixture import EXTRA_CASES  # noqa: E402  (shared hard cases)

MAGIC, VERSION = b"SWTK", 1
# Llama 3's pre-tokenizer pattern, as in Meta-Llama-3's tokenizer.json.
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
MORE_CASES = ["I'M SURE YOU'LL SAY THEY'VE GONE, WE'D", "12345678 and 1,234,567.89", "a\r\n\r\nb\n\n\n  c",
              "(parenthesis) [brackets] {braces}", "  \tmixed \t whitespace\t", "'tis 'Twas DON'T", "x\n",
              "'The 'Mrs 'Very well, 'Mr"]  # the last splits differently if the contractions were case-sensitive


def llama3_pre_tokenizer():
    return pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])


def train_llama_bpe(lines):
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = llama3_pre_tokenizer()
    trainer = trainers.BpeTrainer(vocab_size=1500, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|begin_of_text|>", "<|end_of_text|>"], show_progress=False)
    tk.train_from_iterator(lines, trainer)
    model = json.loads(tk.to_str())["model"]
    vocab = model["vocab"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in model["merges"]]
    ref = Tokenizer(models.BPE(vocab, merges, ignore_merges=True))
    ref.pre_tokenizer = llama3_pre_tokenizer()
    return ref, vocab, merges


def write_llama_bpe_gguf(path, vocab, merges):
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    w = gguf.GGUFWriter(path, "llama")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("llama-bpe")
    w.add_token_list(tokens)
    w.add_token_merges([f"{a} {b}" for a, b in merges])
    w.add_token_types([3 if t.startswith("<|") else 1 for t in tokens])
    finish(w)


def spm_token_type(sp, i):
    if sp.is_unknown(i):
        return 2
    if sp.is_control(i):
        return 3
    if sp.is_byte(i):
        return 6
    return 5 if sp.is_unused(i) else 1


def train_spm(lines, out_dir):
    import sentencepiece as spm
    prefix = f"{out_dir}/spm_train"
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_prefix=prefix, model_type="bpe",
                                   vocab_size=1000, byte_fallback=True, normalization_rule_name="identity",
                                   add_dummy_prefix=True, remove_extra_whitespaces=False, split_digits=True,
                                   character_coverage=1.0, minloglevel=2)
    return spm.SentencePieceProcessor(model_file=f"{prefix}.model")


def write_spm_gguf(path, sp):
    n = sp.get_piece_size()
    w = gguf.GGUFWriter(path, "llama")
    w.add_tokenizer_model("llama")
    w.add_token_list([sp.id_to_piece(i) for i in range(n)])
    w.add_token_scores([sp.get_score(i) for i in range(n)])
    w.add_token_types([spm_token_type(sp, i) for i in range(n)])
    w.add_unk_token_id(sp.unk_id())
    w.add_add_space_prefix(True)
    finish(w)


def write_unsupported_gguf(path):
    w = gguf.GGUFWriter(path, "llama")
    w.add_tokenizer_model("rwkv")
    w.add_token_list(["a", "b"])
    finish(w)


def write_cases(path, cases, encode):
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<II", VERSION, len(cases)))
        for text in cases:
            raw, ids = text.encode("utf-8"), encode(text)
            f.write(struct.pack("<I", len(raw)) + raw + struct.pack("<I", len(ids)))
            f.write(struct.pack(f"<{len(ids)}i", *ids))


def main():
    text_path, out = sys.argv[1], sys.argv[2]
    lines = open(text_path, encoding="utf-8").read().split("\n")
    train = [l for l in lines[:12000] if l.strip()]
    cases = [l for l in lines[12000::40] if l.strip()]
    cases += ["\n".join(lines[i:i + 7]) for i in range(12000, len(lines), len(lines) // 60)]
    cases += EXTRA_CASES + MORE_CASES
    ref, vocab, merges = train_llama_bpe(train)
    write_llama_bpe_gguf(f"{out}/llama_bpe.gguf", vocab, merges)
    write_cases(f"{out}/llama_bpe.bin", cases, lambda t: ref.encode(t).ids)
    write_unsupported_gguf(f"{out}/unsupported.gguf")
    try:
        import sentencepiece  # noqa: F401
    except ImportError:
        print("sentencepiece is not installed: no SentencePiece reference (scripts/setup.sh installs it)")
        return
    sp = train_spm(train, out)
    write_spm_gguf(f"{out}/spm.gguf", sp)
    write_cases(f"{out}/spm.bin", cases, lambda t: sp.encode(t))
    print(f"{len(cases)} cases per tokenizer written to {out}")


if __name__ == "__main__":
    main()
