/* libFuzzer target: the tokenizers of models/sw_tokenizer.c on arbitrary text (any bytes, invalid UTF-8
 * included).  Byte 0 picks the tokenizer: byte-level BPE with the gpt2, smollm or llama-bpe pre-tokenizer, or
 * SentencePiece BPE; the rest is the text.  Each vocabulary (built here) has a token for every byte, so
 * encoding must succeed and decoding must give the text back exactly (SentencePiece: unless the text holds
 * U+2581 itself, which decodes as the space it stands for); anything else aborts.  Must never
 * crash or read out of bounds (ASan/UBSan). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_buf.h"
#include "models/sw_tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_KINDS 4
#define FUZZ_MAX_TOKENS 320

/* The tokenizers, built on the first call and kept for the process (libFuzzer calls the entry point many times). */
typedef struct fuzz_tokenizers {
  sw_tokenizer_t *tok[FUZZ_KINDS];
  char            text[FUZZ_MAX_TOKENS][16];
  const char     *ptr[FUZZ_MAX_TOKENS];
  size_t          len[FUZZ_MAX_TOKENS];
  int32_t         type[FUZZ_MAX_TOKENS];
  float           score[FUZZ_MAX_TOKENS];
  size_t          n;
} fuzz_tokenizers_t;

static fuzz_tokenizers_t fuzz_ctx;

static void add_token(fuzz_tokenizers_t *c, const char *s, int32_t type, float score) {
  snprintf(c->text[c->n], sizeof c->text[c->n], "%s", s);
  c->ptr[c->n] = c->text[c->n];
  c->len[c->n] = strlen(s);
  c->type[c->n] = type;
  c->score[c->n] = score;
  c->n++;
}

/* Byte b as GPT-2's printable stand-in (printable bytes themselves, the other 68 from U+0100 up), UTF-8. */
static void gpt2_char(unsigned b, char out[3]) {
  unsigned n = 0;
  int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
  for (unsigned i = 0; i < b && !printable; i++)
    n += !((i >= 0x21 && i <= 0x7E) || (i >= 0xA1 && i <= 0xAC) || (i >= 0xAE));
  unsigned cp = printable ? b : 0x100 + n;
  if (cp < 0x80) {
    out[0] = (char)cp, out[1] = 0;
  } else {
    out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
  }
}

static sw_tokenizer_t *build_bpe(fuzz_tokenizers_t *c, const char *pre) {
  static const char *const merged[] = {"\xC4\xA0t", "he", "\xC4\xA0the", "in", "\xC4\xA0\xC4\xA0", "12", "'s"};
  static const char *const merges[] = {"\xC4\xA0 t", "h e", "\xC4\xA0t he", "i n", "\xC4\xA0 \xC4\xA0", "1 2", "' s"};
  size_t mlen[7];
  c->n = 0;
  for (unsigned b = 0; b < 256; b++) {
    char s[3];
    gpt2_char(b, s);
    add_token(c, s, SW_TOKEN_NORMAL, 0.0f);
  }
  for (size_t i = 0; i < 7; i++) {
    add_token(c, merged[i], SW_TOKEN_NORMAL, 0.0f);
    mlen[i] = strlen(merges[i]);
  }
  sw_vocab_spec_t spec = {c->ptr, c->len, c->n, merges, mlen, 7, c->type, pre, -1, 0, NULL, 0, 0, -1};
  sw_tokenizer_t *tok = NULL;
  if (sw_tokenizer_create(&tok, &spec, NULL) != SW_OK) abort();
  return tok;
}

static sw_tokenizer_t *build_spm(fuzz_tokenizers_t *c) {
  static const char *const pieces[] = {"\xE2\x96\x81", "t", "h", "e", "a", "i", "n", "\xE2\x96\x81t", "he",
                                       "\xE2\x96\x81the", "in", "\xE2\x96\x81\xE2\x96\x81", "\xC3\xA9"};
  c->n = 0;
  add_token(c, "<unk>", SW_TOKEN_UNKNOWN, 0.0f);
  add_token(c, "<s>", SW_TOKEN_CONTROL, 0.0f);
  for (unsigned b = 0; b < 256; b++) {
    char s[8];
    snprintf(s, sizeof s, "<0x%02X>", b);
    add_token(c, s, SW_TOKEN_BYTE, 0.0f);
  }
  for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++)
    add_token(c, pieces[i], SW_TOKEN_NORMAL, i == 8 || i == 10 ? -3.0f : -(float)i); /* 8 and 10 tie */
  sw_vocab_spec_t spec = {c->ptr, c->len, c->n, NULL, NULL, 0, c->type, NULL, 0, 1, c->score, 1, 0, -1};
  sw_tokenizer_t *tok = NULL;
  if (sw_tokenizer_create(&tok, &spec, NULL) != SW_OK) abort();
  return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_tokenizers_t *c = &fuzz_ctx;
  if (!c->tok[0]) {
    c->tok[0] = build_bpe(c, "gpt2");
    c->tok[1] = build_bpe(c, "smollm");
    c->tok[2] = build_bpe(c, "llama-bpe");
    c->tok[3] = build_spm(c);
  }
  if (size == 0) return 0;
  const sw_tokenizer_t *tok = c->tok[data[0] % FUZZ_KINDS];
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  int32_t *ids = NULL;
  size_t n_ids = 0;
  sw_err_t err = {0};
  if (sw_tokenizer_encode(tok, text, len, 0, &ids, &n_ids, &err) != SW_OK) abort();
  sw_buf_t back = SW_BUF_INIT;
  if (sw_tokenizer_decode(tok, ids, n_ids, &back, &err) != SW_OK) abort();
  int has_space_mark = data[0] % FUZZ_KINDS == 3 && memmem(text, len, "\xE2\x96\x81", 3) != NULL;
  if (!has_space_mark && (back.len != len || (len && memcmp(back.data, text, len) != 0))) abort();
  sw_buf_free(&back);
  free(ids);
  return 0;
}
