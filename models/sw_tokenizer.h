/* sw_tokenizer: the two tokenizer families of Llama-family GGUF files (models/README.md, "Tokenizers"):
 *  - byte-level BPE (tokenizer.ggml.model "gpt2") from a vocabulary and merge list, with the pre-tokenizers
 *    "smollm" (each numeric code point alone, then the GPT-2 split), "gpt2" and "llama-bpe" (Llama 3's split:
 *    case-insensitive contractions, digits in runs of at most 3, newlines kept apart; a piece that is itself a
 *    token is emitted without merging).  No space prefix, no normalisation; merges by lowest rank,
 *    leftmost first (docs/models.md §2);
 *  - SentencePiece BPE (tokenizer.ggml.model "llama") from a vocabulary with scores: spaces become U+2581,
 *    one U+2581 is prefixed to the text (add_space_prefix), adjacent symbols merge into the highest-scoring
 *    token (leftmost on ties), and a symbol that is no token falls back to its <0xXX> byte tokens.
 * Invalid UTF-8 bytes are kept as single-byte pieces, so decode(encode(x)) == x for any byte string whose
 * bytes all have a byte token (a vocabulary may lack 0xC0, 0xC1, 0xF5..0xFF: those become unk_id).
 * encode never adds a BOS token; the tokenizer only records whether the model expects one (sw_tokenizer_bos).
 * A built tokenizer is immutable: encode/decode may run from several threads at once. */
#ifndef SW_TOKENIZER_H
#define SW_TOKENIZER_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_buf.h"
#include "common/sw_err.h"

typedef struct sw_tokenizer sw_tokenizer_t;

/* GGUF token types (tokenizer.ggml.token_type). */
enum {
  SW_TOKEN_NORMAL = 1,
  SW_TOKEN_UNKNOWN = 2,
  SW_TOKEN_CONTROL = 3,
  SW_TOKEN_USER_DEFINED = 4,
  SW_TOKEN_UNUSED = 5,
  SW_TOKEN_BYTE = 6
};

typedef struct sw_vocab_spec {
  const char *const *tokens;      /* tokens[n_tokens]: byte-level strings (not NUL-terminated necessarily) */
  const size_t      *token_lens;  /* token_lens[n_tokens]: bytes of each token */
  size_t             n_tokens;
  const char *const *merges;      /* merges[n_merges]: "A B"; rank = index */
  const size_t      *merge_lens;  /* merge_lens[n_merges] */
  size_t             n_merges;
  const int32_t     *token_types; /* token_types[n_tokens] or NULL (all normal) */
  const char        *pre;         /* pre-tokenizer name: "smollm" or "gpt2" (NULL = "gpt2") */
  int32_t            unk_id;      /* id used when no byte token exists, or -1 */
  int                spm;         /* 1: SentencePiece BPE (scores, no merges, pre ignored); 0: byte-level BPE */
  const float       *scores;      /* spm: scores[n_tokens] (higher merges first) */
  int                add_space_prefix; /* spm: prefix U+2581 to each text fragment */
  int                add_bos;     /* 1: the model expects bos_id before every sequence it scores */
  int32_t            bos_id;      /* the BOS token (checked in range when add_bos) */
} sw_vocab_spec_t;

/* Builds a tokenizer (copies everything it needs from spec).  Errors: a merge naming an unknown token or an
 * unsupported pre-tokenizer (message names it), duplicate tokens, empty vocabulary.  Free with sw_tokenizer_free. */
sw_rc sw_tokenizer_create(sw_tokenizer_t **out, const sw_vocab_spec_t *spec, sw_err_t *err);
void  sw_tokenizer_free(sw_tokenizer_t *tok);

/* Encodes len bytes of text; *ids is malloc'd (caller frees), *n_ids its length.  With parse_special, the
 * text of control/user-defined tokens ("<|im_start|>") becomes those tokens; without it they are plain text. */
sw_rc sw_tokenizer_encode(const sw_tokenizer_t *tok, const char *text, size_t len, int parse_special, int32_t **ids,
                          size_t *n_ids, sw_err_t *err);
/* Appends the bytes of ids to out (control tokens appear as their literal text).  SW_ERR_RANGE on a bad id. */
sw_rc sw_tokenizer_decode(const sw_tokenizer_t *tok, const int32_t *ids, size_t n_ids, sw_buf_t *out, sw_err_t *err);

size_t sw_tokenizer_vocab_size(const sw_tokenizer_t *tok);
/* The BOS id to prepend to every scored sequence when the model expects one (GGUF tokenizer.ggml.add_bos_token,
 * Hugging Face tokenizer_config.json add_bos_token / tokenizer.json's post-processor), else -1.  encode never adds
 * it: callers that score a sequence do (sw_tokenizer_prepend_bos). */
int32_t sw_tokenizer_bos(const sw_tokenizer_t *tok);
/* Prepends sw_tokenizer_bos(tok) to the malloc'd *ids (length *n_ids) when it is >= 0; a no-op otherwise. */
sw_rc sw_tokenizer_prepend_bos(const sw_tokenizer_t *tok, int32_t **ids, size_t *n_ids, sw_err_t *err);
/* Token id of an exact byte-level string, or -1. */
int32_t sw_tokenizer_lookup(const sw_tokenizer_t *tok, const char *s, size_t len);

#endif
