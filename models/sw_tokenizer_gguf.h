/* sw_tokenizer_gguf: a tokenizer from GGUF metadata (tokenizer.ggml.model "gpt2": byte-level BPE, pre-tokenizer
 * from tokenizer.ggml.pre, merges; "llama": SentencePiece BPE with scores and add_space_prefix; both: tokens,
 * token_type, unknown_token_id).  Any other model is SW_ERR_UNSUPPORTED naming it. */
#ifndef SW_TOKENIZER_GGUF_H
#define SW_TOKENIZER_GGUF_H
#include "common/sw_err.h"
#include "models/sw_gguf.h"
#include "models/sw_tokenizer.h"

/* Builds a tokenizer that no longer needs g afterwards.  Errors name the GGUF key at fault. */
sw_rc sw_tokenizer_from_gguf(const sw_gguf_t *g, sw_tokenizer_t **out, sw_err_t *err);

#endif
