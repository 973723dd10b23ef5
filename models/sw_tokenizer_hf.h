/* sw_tokenizer_hf: a tokenizer from a Hugging Face tokenizer.json (docs/models.md §5): model type BPE
 * (vocab object, merges as "a b" strings or [a, b] pairs), added_tokens (special -> control, else
 * user-defined), no normalizer, and the pre-tokenizer the file declares: ByteLevel (-> "gpt2") or
 * Sequence[Digits(individual_digits), ByteLevel] (-> "smollm", SmolLM2's).  Anything else (byte_fallback,
 * a normalizer, add_prefix_space, another pre-tokenizer) is refused with a message naming the file and key.
 * The byte-level BPE itself is models/sw_tokenizer.c, shared with the GGUF path. */
#ifndef SW_TOKENIZER_HF_H
#define SW_TOKENIZER_HF_H
#include "common/sw_err.h"
#include "common/sw_json.h"
#include "models/sw_tokenizer.h"

#define SW_TOKENIZER_HF_MAX_FILE ((size_t)256 << 20) /* tokenizer.json cap, bytes */

/* Builds a tokenizer from a parsed tokenizer.json; what names the file in messages. */
sw_rc sw_tokenizer_from_hf_json(const sw_json_t *json, const char *what, sw_tokenizer_t **out, sw_err_t *err);
/* The tokenizer of a model source: dir/tokenizer.json when path is a directory, else the GGUF file's vocabulary. */
sw_rc sw_tokenizer_open(const char *path, sw_tokenizer_t **out, sw_err_t *err);

#endif
