/* sw_hf: a Llama-family Hugging Face checkpoint directory (config.json + *.safetensors shards, f32/f16/bf16)
 * loaded into the same sw_llama_t the GGUF path builds (docs/models.md §5).  config.json gives the
 * hyperparameters; unsupported architectures, activations, biases, RoPE scaling and head sizes are refused
 * with a message naming config.json and the key.  HF stores q_proj/k_proj rows in rotate-half order per
 * head; the GGUF forward pass (models/sw_llama.c) rotates adjacent pairs, so rows are permuted on load exactly
 * as llama.cpp's converter does (row h*hd + 2i + j  <-  HF row h*hd + j*hd/2 + i), giving identical logits. */
#ifndef SW_HF_H
#define SW_HF_H
#include "common/sw_err.h"
#include "common/sw_json.h"
#include "models/sw_llama.h"
#include "models/sw_safetensors.h"

/* 1 when path names a directory (an HF checkpoint), 0 otherwise (a GGUF file). */
int sw_hf_is_dir(const char *path);
/* Reads a parsed config.json into cfg (vocab from vocab_size; tied_output from tie_word_embeddings).
 * what names the file in messages. */
sw_rc sw_hf_config_read(sw_llama_config_t *cfg, const sw_json_t *json, const char *what, sw_err_t *err);
/* Loads dir/config.json and the shards.  m->sha256 is the SHA-256 of the provenance manifest: one line per
 * file, "<sha256>  <name>\n", for config.json then each shard in name order -- the output of
 * `sha256sum config.json <shards>` in the directory, so `sha256sum config.json *.safetensors | sha256sum`
 * reproduces it when every *.safetensors file is a shard.  m->path is the directory. */
sw_rc sw_llama_load_hf(sw_llama_t *m, const char *dir, sw_err_t *err);
/* The manifest hash above from config.json's SHA-256 and the opened shards (models/sw_safetensors.h). */
void sw_hf_manifest_sha256(const char *config_sha, const sw_st_t *st, char out[65]);
/* sw_st_read_json (models/sw_safetensors.h) on dir/name. */
sw_rc sw_hf_read_json(const char *dir, const char *name, size_t cap, sw_json_t **out, char *sha256, sw_err_t *err);

#endif
