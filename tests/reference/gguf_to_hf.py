#!/usr/bin/env python3
"""Converts a Llama-family GGUF (the SmolLM2 Q4_1 file) into Hugging Face checkpoint directories, written
independently of sparsweep's C code with the `gguf`, `numpy` and `safetensors` packages, for
tests/unit/test_hf.c:
  f32/          model.safetensors (every tensor dequantised by `gguf` to f32), config.json, tokenizer.json
  f16/          the weights rounded to f16 by NumPy, 3 shards + model.safetensors.index.json
  f16_ref/      the same f16 values widened back to f32 by NumPy, one file (the f16 run's expected weights)
  bf16/         the weights rounded to bf16 (round to nearest even, NumPy bit arithmetic), 2 shards, no index
                (written byte by byte: NumPy has no bf16 dtype for `safetensors`)
  bf16_ref/     the same bf16 values as f32, one file
  hf_ids.bin    u32 count + i32 ids: the HF `tokenizers` package's encoding of the first 200000 bytes of TEXT
                with the tokenizer.json written here (when `tokenizers` is installed and TEXT is given)
HF checkpoints store q_proj/k_proj rows in rotate-half order per head, GGUF in adjacent-pair order (llama.cpp's
converter permutes them); here they are un-permuted: HF row h*hd + j*hd/2 + i = GGUF row h*hd + 2i + j.
  STAMP         SHA-256 over this script, MODEL and TEXT, written last: a rerun with the same inputs writes nothing
Exit code 77 (ctest SKIP) when `safetensors` is missing or MODEL does not exist.
Usage: gguf_to_hf.py MODEL.gguf OUT_DIR [TEXT]"""
import json
import os
import struct
import sys

SKIP = 77


def skip(why):
    """Exit 77 (ctest SKIP), first removing a previous run's f32/config.json so the C test skips too."""
    for name in ("f32/config.json", "STAMP"):
        if len(sys.argv) > 2 and os.path.exists(os.path.join(sys.argv[2], name)):
            os.remove(os.path.join(sys.argv[2], name))
    print(f"gguf_to_hf: SKIP: {why}")
    sys.exit(SKIP)


try:
    import numpy as np
    from safetensors.numpy import save_file
    from gguf import GGUFReader
    from gguf.quants import dequantize
except ImportError as e:  # the test is skipped, never passed
    skip(f"{e} (pip install safetensors; scripts/setup.sh pins it)")
TOKEN_CONTROL, TOKEN_USER_DEFINED = 3, 4


def field(reader, key):
    f = reader.fields.get(key)
    if f is None:
        return None
    v = f.parts[f.data[0]]
    if f.types and f.types[0].name == "STRING":
        return bytes(v).decode("utf-8")
    return v[0].item() if hasattr(v[0], "item") else v[0]


def string_array(reader, key):
    f = reader.fields[key]
    return [bytes(f.parts[i]).decode("utf-8") for i in f.data]


def int_array(reader, key):
    f = reader.fields[key]
    return [int(f.parts[i][0]) for i in f.data]


def hf_name(gguf_name):
    glob = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
            "output.weight": "lm_head.weight"}
    if gguf_name in glob:
        return glob[gguf_name]
    _, layer, rest = gguf_name.split(".", 2)
    per = {"attn_norm.weight": "input_layernorm.weight", "attn_q.weight": "self_attn.q_proj.weight",
           "attn_k.weight": "self_attn.k_proj.weight", "attn_v.weight": "self_attn.v_proj.weight",
           "attn_output.weight": "self_attn.o_proj.weight", "ffn_norm.weight": "post_attention_layernorm.weight",
           "ffn_gate.weight": "mlp.gate_proj.weight", "ffn_up.weight": "mlp.up_proj.weight",
           "ffn_down.weight": "mlp.down_proj.weight"}
    return f"model.layers.{layer}.{per[rest]}"


def unpermute(w, n_head):
    """GGUF adjacent-pair rows -> HF rotate-half rows, per head."""
    rows, width = w.shape
    hd = rows // n_head
    return w.reshape(n_head, hd // 2, 2, width).swapaxes(1, 2).reshape(rows, width)


def read_weights(reader, n_head, n_head_kv):
    out = {}
    for t in reader.tensors:
        ne = [int(x) for x in t.shape]  # GGUF order: ne[0] contiguous
        w = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(list(reversed(ne)))
        if t.name.endswith("attn_q.weight"):
            w = unpermute(w, n_head)
        elif t.name.endswith("attn_k.weight"):
            w = unpermute(w, n_head_kv)
        out[hf_name(t.name)] = np.ascontiguousarray(w)
    return out


def config_from(reader, weights):
    arch = field(reader, "general.architecture")
    g = lambda k, d=None: field(reader, f"{arch}.{k}") if field(reader, f"{arch}.{k}") is not None else d
    n_head = int(g("attention.head_count"))
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
        "hidden_size": int(g("embedding_length")), "intermediate_size": int(g("feed_forward_length")),
        "num_hidden_layers": int(g("block_count")), "num_attention_heads": n_head,
        "num_key_value_heads": int(g("attention.head_count_kv", n_head)),
        "rms_norm_eps": float(g("attention.layer_norm_rms_epsilon")), "rope_theta": float(g("rope.freq_base", 10000.0)),
        "vocab_size": int(weights["model.embed_tokens.weight"].shape[0]),
        "max_position_embeddings": int(g("context_length", 2048)),
        "tie_word_embeddings": "lm_head.weight" not in weights, "torch_dtype": "float32",
        "bos_token_id": field(reader, "tokenizer.ggml.bos_token_id"),
        "eos_token_id": field(reader, "tokenizer.ggml.eos_token_id"),
    }


def tokenizer_from(reader):
    tokens = string_array(reader, "tokenizer.ggml.tokens")
    merges = string_array(reader, "tokenizer.ggml.merges")
    types = int_array(reader, "tokenizer.ggml.token_type")
    pre = field(reader, "tokenizer.ggml.pre") or "gpt2"
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    if pre == "smollm":
        pre_tok = {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, byte_level]}
    elif pre == "gpt2":
        pre_tok = byte_level
    else:
        raise SystemExit(f"gguf_to_hf: pre-tokenizer {pre} not handled")
    unk = field(reader, "tokenizer.ggml.unknown_token_id")
    added = [{"id": i, "content": tokens[i], "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": types[i] != TOKEN_CONTROL, "special": types[i] == TOKEN_CONTROL}
             for i in range(len(tokens)) if types[i] in (TOKEN_CONTROL, TOKEN_USER_DEFINED)]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": pre_tok, "post_processor": dict(byte_level), "decoder": dict(byte_level),
        "model": {"type": "BPE", "dropout": None, "unk_token": tokens[unk] if unk is not None else None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": False,
                  "byte_fallback": False, "ignore_merges": False,
                  "vocab": {t: i for i, t in enumerate(tokens)}, "merges": merges},
    }


def write_meta(out_dir, config, tokenizer, dtype):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(dict(config, torch_dtype=dtype), f, indent=2)
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)


def shard_names(names, n_shards):
    per = -(-len(names) // n_shards)
    return [names[i:i + per] for i in range(0, len(names), per)]


def save_sharded(out_dir, weights, n_shards, with_index):
    names = sorted(weights)
    index = {}
    groups = shard_names(names, n_shards)
    for k, group in enumerate(groups):
        fname = f"model-{k + 1:05d}-of-{len(groups):05d}.safetensors"
        save_file({n: weights[n] for n in group}, os.path.join(out_dir, fname), metadata={"format": "pt"})
        index.update({n: fname for n in group})
    if with_index:
        total = sum(w.nbytes for w in weights.values())
        with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": index}, f, indent=2)


def to_bf16_bits(w):
    bits = w.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def save_bf16_file(path, tensors):
    """A safetensors file written byte by byte: header JSON padded with spaces to 8 bytes, then the data."""
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name in sorted(tensors):
        bits, shape = tensors[name]
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + bits.nbytes]}
        off += bits.nbytes
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name in sorted(tensors):
            f.write(tensors[name][0].astype("<u2").tobytes())


def write_variants(out, weights, config, tokenizer):
    write_meta(os.path.join(out, "f32"), config, tokenizer, "float32")
    save_file(weights, os.path.join(out, "f32", "model.safetensors"), metadata={"format": "pt"})
    f16 = {n: w.astype(np.float16) for n, w in weights.items()}
    write_meta(os.path.join(out, "f16"), config, tokenizer, "float16")
    save_sharded(os.path.join(out, "f16"), f16, 3, True)
    write_meta(os.path.join(out, "f16_ref"), config, tokenizer, "float32")
    save_file({n: w.astype(np.float32) for n, w in f16.items()}, os.path.join(out, "f16_ref", "model.safetensors"))
    bf16 = {n: to_bf16_bits(w) for n, w in weights.items()}
    write_meta(os.path.join(out, "bf16"), config, tokenizer, "bfloat16")
    for k, group in enumerate(shard_names(sorted(bf16), 2)):
        save_bf16_file(os.path.join(out, "bf16", f"model-{k + 1:05d}-of-00002.safetensors"),
                       {n: (bf16[n], weights[n].shape) for n in group})
    write_meta(os.path.join(out, "bf16_ref"), config, tokenizer, "float32")
    save_file({n: (b.astype(np.uint32) << 16).view(np.float32).reshape(weights[n].shape) for n, b in bf16.items()},
              os.path.join(out, "bf16_ref", "model.safetensors"))


def write_hf_ids(out, text_path):
    try:
        from tokenizers import Tokenizer
    except ImportError:
        return
    tok = Tokenizer.from_file(os.path.join(out, "f32", "tokenizer.json"))
    with open(text_path, "rb") as f:
        text = f.read(200000).decode("utf-8", errors="ignore")
    ids = tok.encode(text, add_special_tokens=False).ids
    with open(os.path.join(out, "hf_ids.bin"), "wb") as f:
        f.write(struct.pack("<I", len(ids)) + np.asarray(ids, dtype="<i4").tobytes())
    with open(os.path.join(out, "hf_ids_text.bin"), "wb") as f:
        f.write(text.encode("utf-8"))


def stamp_of(model, text):
    """What the directories are made from: this script, the model file and the text (their SHA-256)."""
    import hashlib
    h = hashlib.sha256()
    for path in (__file__, model, text):
        if path and os.path.exists(path):
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


def up_to_date(out, stamp):
    """True when a previous run wrote every directory from the same inputs (the stamp is written last)."""
    try:
        with open(os.path.join(out, "STAMP")) as f:
            return f.read().strip() == stamp
    except OSError:
        return False


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    model, out = sys.argv[1], sys.argv[2]
    if not os.path.exists(model):
        skip(f"model {model} not found (scripts/fetch_model.sh)")
    text = sys.argv[3] if len(sys.argv) > 3 and os.path.exists(sys.argv[3]) else None
    stamp = stamp_of(model, text)
    if up_to_date(out, stamp):  # about 1.6 GB not rewritten on every ctest run
        print(f"gguf_to_hf: {out} is up to date (STAMP {stamp[:12]})")
        return
    if os.path.exists(os.path.join(out, "STAMP")):
        os.remove(os.path.join(out, "STAMP"))
    reader = GGUFReader(model)
    arch = field(reader, "general.architecture")
    n_head = int(field(reader, f"{arch}.attention.head_count"))
    n_head_kv = int(field(reader, f"{arch}.attention.head_count_kv") or n_head)
    weights = read_weights(reader, n_head, n_head_kv)
    write_variants(out, weights, config_from(reader, weights), tokenizer_from(reader))
    if text:
        write_hf_ids(out, text)
    with open(os.path.join(out, "STAMP"), "w") as f:
        f.write(stamp + "\n")
    print(f"gguf_to_hf: wrote {out}/{{f32,f16,f16_ref,bf16,bf16_ref}} ({len(weights)} tensors)")


if __name__ == "__main__":
    main()
