/* sw_tokenizer: byte-level BPE and SentencePiece BPE.  Pipeline for encode: UTF-8 decode (keeping byte
 * offsets) -> byte-level: pre-tokenize into pieces (smollm: \p{N} alone, then the GPT-2 split; llama-bpe: the
 * Llama 3 split) -> each piece's bytes mapped to their single-byte tokens; SentencePiece: each text fragment
 * with spaces escaped to U+2581 is one piece of UTF-8 characters -> merges with a heap over a linked list
 * (O(n log n) per piece, so a hostile 1 MB run of spaces costs no more than ordinary text): byte-level by merge
 * rank, SentencePiece by token score (a score's rank among the distinct scores). */
#include "models/sw_tokenizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/sw_unicode_tables.h"

/* ---------------------------------------------------------------- hash tables */

typedef struct str_slot {
  uint64_t hash; /* 0 = empty */
  int32_t  id;
} str_slot_t;

typedef struct pair_slot {
  uint64_t key;    /* (left+1) << 32 | (right+1); 0 = empty */
  int32_t  rank;   /* merge rank (index in the merge list) */
  int32_t  result; /* token id of the merged symbol */
} pair_slot_t;

struct sw_tokenizer {
  char       **tokens;       /* tokens[n_tokens], owned, NUL-terminated copies */
  size_t      *token_lens;   /* bytes of each token */
  int32_t     *token_types;  /* GGUF token type of each token */
  size_t       n_tokens;
  str_slot_t  *str_table;    /* token string -> id; size str_cap (power of two) */
  size_t       str_cap;
  pair_slot_t *pair_table;   /* (left id, right id) -> merge; size pair_cap (power of two) */
  size_t       pair_cap;
  int32_t      byte_token[256]; /* token id of each byte's GPT-2 mapped character, or -1 */
  int16_t      cp_byte[0x200];  /* inverse byte map: code point -> byte, or -1 (mapped cps are < 0x200) */
  int          pre;          /* PRE_* */
  int          spm;          /* 1: SentencePiece BPE */
  int          add_space_prefix; /* spm: U+2581 before each text fragment */
  int32_t     *spm_rank;     /* spm: rank of each token's score (0 = highest), or -1 if it is no merge target */
  char         byte_utf8[256][2]; /* UTF-8 of each byte's GPT-2 mapped character (code points < 0x200) */
  uint8_t      byte_utf8_len[256];
  int32_t      unk_id;
  int32_t      bos_id;       /* prepended to scored sequences, or -1 (the model expects none) */
  int32_t     *specials;     /* control / user-defined token ids, longest text first */
  size_t       n_specials;
};

enum { PRE_GPT2 = 0, PRE_SMOLLM = 1, PRE_LLAMA3 = 2 };

static uint64_t fnv1a(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a 64-bit offset basis and prime (Fowler/Noll/Vo) */
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
  return h ? h : 1;
}

static size_t pow2_at_least(size_t n) {
  size_t c = 16;
  while (c < n) c *= 2;
  return c;
}

int32_t sw_tokenizer_lookup(const sw_tokenizer_t *tok, const char *s, size_t len) {
  uint64_t h = fnv1a(s, len);
  for (size_t i = h & (tok->str_cap - 1);; i = (i + 1) & (tok->str_cap - 1)) {
    const str_slot_t *slot = &tok->str_table[i];
    if (!slot->hash) return -1;
    if (slot->hash == h && tok->token_lens[slot->id] == len && memcmp(tok->tokens[slot->id], s, len) == 0)
      return slot->id;
  }
}

static const pair_slot_t *pair_find(const sw_tokenizer_t *tok, int32_t left, int32_t right) {
  uint64_t key = (uint64_t)(left + 1) << 32 | (uint64_t)(right + 1);
  uint64_t h = key * 0x9E3779B97F4A7C15ULL; /* Fibonacci hashing (Knuth, TAOCP vol. 3 §6.4) */
  for (size_t i = (h >> 20) & (tok->pair_cap - 1);; i = (i + 1) & (tok->pair_cap - 1)) {
    const pair_slot_t *slot = &tok->pair_table[i];
    if (!slot->key || slot->key == key) return slot;
  }
}

/* ---------------------------------------------------------------- GPT-2 byte map */

/* GPT-2's byte-to-unicode map (docs/models.md §2): printable bytes map to themselves, the other 68 bytes
 * to U+0100, U+0101, ... in increasing byte order. */
static uint32_t byte_to_cp(unsigned b) {
  if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) return b;
  uint32_t n = 0;
  for (unsigned i = 0; i < b; i++)
    if (!((i >= 0x21 && i <= 0x7E) || (i >= 0xA1 && i <= 0xAC) || (i >= 0xAE && i <= 0xFF))) n++;
  return 0x100 + n;
}

static size_t utf8_put(char *dst, uint32_t cp) {
  if (cp < 0x80) {
    dst[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    dst[0] = (char)(0xC0 | (cp >> 6));
    dst[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    dst[0] = (char)(0xE0 | (cp >> 12));
    dst[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    dst[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  dst[0] = (char)(0xF0 | (cp >> 18));
  dst[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  dst[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  dst[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Decodes one UTF-8 sequence at s[0..n); returns its length (1 for an invalid byte, with *cp = 0xFFFFFFFF). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
  unsigned c = s[0];
  size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (len == 0 || len > n) goto invalid;
  uint32_t v = len == 1 ? c : c & (0x7F >> len);
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) goto invalid;
    v = v << 6 | (s[i] & 0x3F);
  }
  static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < min_for_len[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) goto invalid;
  *cp = v;
  return len;
invalid:
  *cp = 0xFFFFFFFFu;
  return 1;
}

/* ---------------------------------------------------------------- character classes */

enum { CLS_OTHER = 0, CLS_LETTER = 1, CLS_NUMBER = 2, CLS_SPACE = 4 };

static int in_ranges(const sw_cp_range_t *r, size_t n, uint32_t cp) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (cp < r[mid].first) hi = mid;
    else if (cp > r[mid].last) lo = mid + 1;
    else return 1;
  }
  return 0;
}

static int is_space_cp(uint32_t cp) {
  /* llama.cpp's whitespace set (docs/models.md §2). */
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

static int cp_class(uint32_t cp) {
  if (cp == 0xFFFFFFFFu) return CLS_OTHER;
  if (is_space_cp(cp)) return CLS_SPACE;
  if (cp < 0x80) {
    if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return CLS_LETTER;
    return cp >= '0' && cp <= '9' ? CLS_NUMBER : CLS_OTHER;
  }
  if (in_ranges(sw_unicode_letters, sizeof sw_unicode_letters / sizeof sw_unicode_letters[0], cp)) return CLS_LETTER;
  if (in_ranges(sw_unicode_numbers, sizeof sw_unicode_numbers / sizeof sw_unicode_numbers[0], cp)) return CLS_NUMBER;
  return CLS_OTHER;
}

/* A decoded code point with its byte extent in the input. */
typedef struct cpt {
  uint32_t cp;    /* code point, or 0xFFFFFFFF for an invalid byte */
  uint32_t off;   /* byte offset of its first byte */
  uint8_t  len;   /* bytes */
  uint8_t  cls;   /* CLS_* */
} cpt_t;

/* ---------------------------------------------------------------- BPE on one piece */

#define BPE_DEAD (-2) /* id of a symbol merged into its left neighbour */

typedef struct bpe_sym {
  int32_t  id;         /* current token id (SentencePiece: -1 for a character that is no token) */
  int32_t  prev, next; /* neighbours in the list, -1 at the ends */
  uint32_t off, len;   /* bytes of the piece it covers */
} bpe_sym_t;

typedef struct bpe_cand {
  int32_t rank;       /* merge rank: smaller merges first */
  int32_t left;       /* index of the left symbol: smaller (leftmost) first on ties */
  int32_t right;      /* index of the right symbol when the candidate was made */
} bpe_cand_t;

typedef struct bpe_work {
  bpe_sym_t  *syms;   /* symbols of the current piece */
  bpe_cand_t *heap;   /* min-heap of candidate merges */
  size_t      n_heap;
  size_t      cap;    /* capacity of syms and heap (heap never exceeds 2*cap pushes live... sized 2*cap) */
  const unsigned char *text; /* the piece's bytes (SentencePiece merges look up their concatenation) */
} bpe_work_t;

static int cand_less(const bpe_cand_t *a, const bpe_cand_t *b) {
  return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(bpe_work_t *w, bpe_cand_t c) {
  size_t i = w->n_heap++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!cand_less(&c, &w->heap[parent])) break;
    w->heap[i] = w->heap[parent];
    i = parent;
  }
  w->heap[i] = c;
}

static bpe_cand_t heap_pop(bpe_work_t *w) {
  bpe_cand_t top = w->heap[0];
  bpe_cand_t last = w->heap[--w->n_heap];
  size_t i = 0;
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= w->n_heap) break;
    if (child + 1 < w->n_heap && cand_less(&w->heap[child + 1], &w->heap[child])) child++;
    if (!cand_less(&w->heap[child], &last)) break;
    w->heap[i] = w->heap[child];
    i = child;
  }
  if (w->n_heap) w->heap[i] = last;
  return top;
}

/* The merge of two adjacent symbols: 1 with its rank and resulting token, or 0 when they do not merge. */
static int bpe_pair(const sw_tokenizer_t *tok, const bpe_work_t *w, int32_t left, int32_t right, int32_t *rank,
                    int32_t *result) {
  const bpe_sym_t *l = &w->syms[left], *r = &w->syms[right];
  if (tok->spm) {
    int32_t id = sw_tokenizer_lookup(tok, (const char *)w->text + l->off, l->len + r->len);
    if (id < 0 || tok->spm_rank[id] < 0) return 0;
    *rank = tok->spm_rank[id];
    *result = id;
    return 1;
  }
  const pair_slot_t *m = pair_find(tok, l->id, r->id);
  if (!m->key) return 0;
  *rank = m->rank;
  *result = m->result;
  return 1;
}

static void bpe_try_pair(const sw_tokenizer_t *tok, bpe_work_t *w, int32_t left) {
  if (left < 0) return;
  int32_t right = w->syms[left].next, rank, result;
  if (right >= 0 && bpe_pair(tok, w, left, right, &rank, &result)) heap_push(w, (bpe_cand_t){rank, left, right});
}

static int bpe_reserve(bpe_work_t *w, size_t n) {
  if (n <= w->cap) return 1;
  size_t cap = pow2_at_least(n);
  bpe_sym_t *s = realloc(w->syms, cap * sizeof *s);
  if (!s) return 0;
  w->syms = s;
  bpe_cand_t *h = realloc(w->heap, 2 * cap * sizeof *h);
  if (!h) return 0;
  w->heap = h;
  w->cap = cap;
  return 1;
}

static sw_rc push_raw(int32_t **ids, size_t *n_ids, size_t *cap_ids, int32_t id, sw_err_t *err) {
  if (*n_ids == *cap_ids) {
    size_t nc = *cap_ids ? *cap_ids * 2 : 64;
    int32_t *grown = realloc(*ids, nc * sizeof *grown);
    if (!grown) return sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory");
    *ids = grown;
    *cap_ids = nc;
  }
  (*ids)[(*n_ids)++] = id;
  return SW_OK;
}

/* The token of one byte when no longer symbol covers it: its byte token, else the unknown token. */
static sw_rc byte_fallback(const sw_tokenizer_t *tok, unsigned char b, int32_t *id, sw_err_t *err) {
  *id = tok->byte_token[b] >= 0 ? tok->byte_token[b] : tok->unk_id;
  if (*id < 0) return sw_err_set(err, SW_ERR_NOTFOUND, "tokenizer: byte 0x%02x has no token and no unknown token", b);
  return SW_OK;
}

/* Merges the n_syms linked symbols of w (set up by the caller) and appends their tokens to ids. */
static sw_rc bpe_merge_emit(const sw_tokenizer_t *tok, bpe_work_t *w, size_t n_syms, int32_t **ids, size_t *n_ids,
                            size_t *cap_ids, sw_err_t *err) {
  w->n_heap = 0;
  for (size_t i = 0; i + 1 < n_syms; i++) bpe_try_pair(tok, w, (int32_t)i);
  while (w->n_heap) {
    bpe_cand_t c = heap_pop(w);
    bpe_sym_t *l = &w->syms[c.left];
    if (l->id == BPE_DEAD || l->next != c.right) continue; /* stale: the left symbol was merged with something else */
    int32_t rank, result;
    if (!bpe_pair(tok, w, c.left, c.right, &rank, &result) || rank != c.rank) continue;
    l->id = result;
    l->len += w->syms[c.right].len;
    int32_t after = w->syms[c.right].next;
    w->syms[c.right].id = BPE_DEAD;
    w->syms[c.right].next = -1;
    l->next = after;
    if (after >= 0) w->syms[after].prev = c.left;
    bpe_try_pair(tok, w, l->prev);
    bpe_try_pair(tok, w, c.left);
  }
  sw_rc rc = SW_OK;
  for (int32_t i = n_syms ? 0 : -1; i >= 0 && !rc; i = w->syms[i].next) {
    const bpe_sym_t *sym = &w->syms[i];
    if (sym->id >= 0) {
      rc = push_raw(ids, n_ids, cap_ids, sym->id, err);
      continue;
    }
    for (uint32_t k = 0; !rc && k < sym->len; k++) { /* SentencePiece: a character that is no token */
      int32_t b;
      rc = byte_fallback(tok, w->text[sym->off + k], &b, err);
      if (!rc) rc = push_raw(ids, n_ids, cap_ids, b, err);
    }
  }
  return rc;
}

/* The token whose byte-level text is exactly the mapped bytes text[0..n), or -1 (llama-bpe's ignore_merges). */
static int32_t whole_piece_token(const sw_tokenizer_t *tok, const unsigned char *text, size_t n) {
  char buf[256];
  size_t len = 0;
  if (n > sizeof buf / 2) return -1;
  for (size_t i = 0; i < n; i++) {
    memcpy(buf + len, tok->byte_utf8[text[i]], tok->byte_utf8_len[text[i]]);
    len += tok->byte_utf8_len[text[i]];
  }
  return sw_tokenizer_lookup(tok, buf, len);
}

/* Appends the byte-level BPE tokens of bytes text[0..n) to ids. */
static sw_rc bpe_piece(const sw_tokenizer_t *tok, bpe_work_t *w, const unsigned char *text, size_t n, int32_t **ids,
                       size_t *n_ids, size_t *cap_ids, sw_err_t *err) {
  if (tok->pre == PRE_LLAMA3) {
    int32_t whole = whole_piece_token(tok, text, n);
    if (whole >= 0) return push_raw(ids, n_ids, cap_ids, whole, err);
  }
  if (!bpe_reserve(w, n)) return sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory");
  w->text = text;
  for (size_t i = 0; i < n; i++) {
    int32_t id;
    sw_rc rc = byte_fallback(tok, text[i], &id, err);
    if (rc) return rc;
    w->syms[i] = (bpe_sym_t){id, (int32_t)i - 1, i + 1 < n ? (int32_t)i + 1 : -1, (uint32_t)i, 1};
  }
  return bpe_merge_emit(tok, w, n, ids, n_ids, cap_ids, err);
}

/* Appends the SentencePiece tokens of the escaped fragment text[0..n): one symbol per UTF-8 character. */
static sw_rc spm_piece(const sw_tokenizer_t *tok, bpe_work_t *w, const unsigned char *text, size_t n, int32_t **ids,
                       size_t *n_ids, size_t *cap_ids, sw_err_t *err) {
  if (!bpe_reserve(w, n)) return sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory");
  w->text = text;
  size_t n_syms = 0;
  for (size_t off = 0; off < n;) {
    uint32_t cp;
    size_t k = utf8_next(text + off, n - off, &cp);
    int32_t id = sw_tokenizer_lookup(tok, (const char *)text + off, k);
    w->syms[n_syms] = (bpe_sym_t){id, (int32_t)n_syms - 1, off + k < n ? (int32_t)n_syms + 1 : -1, (uint32_t)off,
                                  (uint32_t)k};
    n_syms++;
    off += k;
  }
  return bpe_merge_emit(tok, w, n_syms, ids, n_ids, cap_ids, err);
}

/* ---------------------------------------------------------------- pre-tokenizer */

/* Length in code points of the GPT-2 regex match at c[pos] within c[0..n):
 * 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+   (case-sensitive) */
static size_t gpt2_match(const cpt_t *c, size_t pos, size_t n) {
  uint32_t cp = c[pos].cp;
  if (cp == '\'' && pos + 1 < n) {
    uint32_t a = c[pos + 1].cp;
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (pos + 2 < n) {
      uint32_t b = c[pos + 2].cp;
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    }
  }
  size_t start = pos + (cp == ' ' && pos + 1 < n);
  int cls = c[start].cls;
  if (cp == ' ' && start == pos) cls = CLS_SPACE; /* a lone trailing space */
  if (cls == CLS_LETTER || cls == CLS_NUMBER) {
    size_t end = start;
    while (end < n && c[end].cls == cls) end++;
    return end - pos;
  }
  if (cls == CLS_OTHER) {
    size_t end = start;
    while (end < n && c[end].cls == CLS_OTHER) end++;
    return end - pos;
  }
  size_t run = 0;
  while (pos + run < n && c[pos + run].cls == CLS_SPACE) run++;
  if (run > 1 && pos + run < n) return run - 1; /* leave the last space to the following word */
  return run ? run : 1;
}

static int is_newline(uint32_t cp) { return cp == '\r' || cp == '\n'; }

/* Llama 3's contractions, case-insensitive: 's 't 'm 'd (2 code points), 're 've 'll (3), else 0. */
static size_t llama3_contraction(const cpt_t *c, size_t pos, size_t n) {
  if (c[pos].cp != '\'' || pos + 1 >= n || c[pos + 1].cp >= 0x80) return 0;
  uint32_t a = c[pos + 1].cp | 0x20;
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (pos + 2 >= n || c[pos + 2].cp >= 0x80) return 0;
  uint32_t b = c[pos + 2].cp | 0x20;
  return (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l') ? 3 : 0;
}

/* Length in code points of the Llama 3 (llama-bpe) regex match at c[pos] within c[0..n):
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t llama3_match(const cpt_t *c, size_t pos, size_t n) {
  size_t k = llama3_contraction(c, pos, n), end;
  if (k) return k;
  int cls = c[pos].cls;
  size_t start = pos + (cls != CLS_LETTER && cls != CLS_NUMBER && !is_newline(c[pos].cp) && pos + 1 < n &&
                        c[pos + 1].cls == CLS_LETTER);
  if (c[start].cls == CLS_LETTER) {
    for (end = start; end < n && c[end].cls == CLS_LETTER; end++) {}
    return end - pos;
  }
  if (cls == CLS_NUMBER) {
    for (end = pos; end < n && end < pos + 3 && c[end].cls == CLS_NUMBER; end++) {}
    return end - pos;
  }
  start = pos + (c[pos].cp == ' ' && pos + 1 < n && c[pos + 1].cls == CLS_OTHER);
  if (c[start].cls == CLS_OTHER) {
    for (end = start; end < n && c[end].cls == CLS_OTHER; end++) {}
    while (end < n && is_newline(c[end].cp)) end++;
    return end - pos;
  }
  size_t run = 0, last_nl = 0; /* whitespace: \s*[\r\n]+ ends at the run's last newline */
  for (; pos + run < n && c[pos + run].cls == CLS_SPACE; run++)
    if (is_newline(c[pos + run].cp)) last_nl = run + 1;
  if (last_nl) return last_nl;
  if (run > 1 && pos + run < n) return run - 1; /* \s+(?!\S): the last space goes to the following word */
  return run ? run : 1;
}

typedef struct encode_state {
  const sw_tokenizer_t *tok;
  const unsigned char  *text;
  bpe_work_t            work;
  int32_t              *ids;
  size_t                n_ids, cap_ids;
  sw_err_t             *err;
  int                   fragment_start; /* SentencePiece: no text since the start or the last special token */
} encode_state_t;

/* Splits code points c[0..n) with the GPT-2 rule (Llama 3's for llama-bpe) and runs BPE on each piece. */
static sw_rc encode_gpt2_span(encode_state_t *st, const cpt_t *c, size_t n) {
  for (size_t pos = 0; pos < n;) {
    size_t k = st->tok->pre == PRE_LLAMA3 ? llama3_match(c, pos, n) : gpt2_match(c, pos, n);
    size_t from = c[pos].off, to = c[pos + k - 1].off + c[pos + k - 1].len;
    sw_rc rc = bpe_piece(st->tok, &st->work, st->text + from, to - from, &st->ids, &st->n_ids, &st->cap_ids, st->err);
    if (rc) return rc;
    pos += k;
  }
  return SW_OK;
}

/* SentencePiece: the fragment c[0..n) with each space escaped to U+2581 (and one U+2581 in front when
 * add_space_prefix and the fragment starts the text or follows a special token), as one piece. */
static sw_rc encode_spm_span(encode_state_t *st, const cpt_t *c, size_t n) {
  if (n == 0) return SW_OK;
  size_t from = c[0].off, to = c[n - 1].off + c[n - 1].len, len = 0;
  unsigned char *buf = malloc(3 * (to - from) + 3);
  if (!buf) return sw_err_set(st->err, SW_ERR_NOMEM, "tokenizer: out of memory");
  static const unsigned char lower_one_eighth_block[3] = {0xE2, 0x96, 0x81}; /* U+2581 */
  if (st->tok->add_space_prefix && st->fragment_start) {
    memcpy(buf, lower_one_eighth_block, 3);
    len = 3;
  }
  for (size_t i = from; i < to; i++) {
    if (st->text[i] != ' ') {
      buf[len++] = st->text[i];
      continue;
    }
    memcpy(buf + len, lower_one_eighth_block, 3);
    len += 3;
  }
  st->fragment_start = 0;
  sw_rc rc = spm_piece(st->tok, &st->work, buf, len, &st->ids, &st->n_ids, &st->cap_ids, st->err);
  free(buf);
  return rc;
}

/* Pre-tokenizes c[0..n) (smollm: each \p{N} alone first) and encodes the pieces. */
static sw_rc encode_span(encode_state_t *st, const cpt_t *c, size_t n) {
  if (st->tok->spm) return encode_spm_span(st, c, n);
  if (st->tok->pre != PRE_SMOLLM) return encode_gpt2_span(st, c, n);
  size_t start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && c[i].cls != CLS_NUMBER) continue;
    sw_rc rc = encode_gpt2_span(st, c + start, i - start);
    if (!rc && i < n) rc = encode_gpt2_span(st, c + i, 1);
    if (rc) return rc;
    start = i + 1;
  }
  return SW_OK;
}

/* Index of the special token whose text starts at text[0..len), or -1 (longest first). */
static int32_t special_at(const sw_tokenizer_t *tok, const char *text, size_t len) {
  for (size_t i = 0; i < tok->n_specials; i++) {
    int32_t id = tok->specials[i];
    size_t n = tok->token_lens[id];
    if (n && n <= len && memcmp(text, tok->tokens[id], n) == 0) return id;
  }
  return -1;
}

static sw_rc push_id(encode_state_t *st, int32_t id) {
  st->fragment_start = 1;
  return push_raw(&st->ids, &st->n_ids, &st->cap_ids, id, st->err);
}

sw_rc sw_tokenizer_encode(const sw_tokenizer_t *tok, const char *text, size_t len, int parse_special, int32_t **ids,
                          size_t *n_ids, sw_err_t *err) {
  if (len > UINT32_MAX) return sw_err_set(err, SW_ERR_RANGE, "tokenizer: input of %zu bytes is too large", len);
  encode_state_t st = {tok, (const unsigned char *)text, {0}, NULL, 0, 0, err, 1};
  cpt_t *c = malloc((len ? len : 1) * sizeof *c);
  if (!c) return sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory");
  size_t n = 0, span_start = 0;
  sw_rc rc = SW_OK;
  for (size_t off = 0; off < len && !rc;) {
    int32_t special = parse_special ? special_at(tok, text + off, len - off) : -1;
    if (special >= 0) {
      rc = encode_span(&st, c + span_start, n - span_start);
      if (!rc) rc = push_id(&st, special);
      off += tok->token_lens[special];
      span_start = n;
      continue;
    }
    uint32_t cp;
    size_t k = utf8_next((const unsigned char *)text + off, len - off, &cp);
    c[n] = (cpt_t){cp, (uint32_t)off, (uint8_t)k, (uint8_t)cp_class(cp)};
    n++;
    off += k;
  }
  if (!rc) rc = encode_span(&st, c + span_start, n - span_start);
  free(c);
  free(st.work.syms);
  free(st.work.heap);
  if (rc) {
    free(st.ids);
    return rc;
  }
  *ids = st.ids ? st.ids : malloc(sizeof(int32_t));
  *n_ids = st.n_ids;
  return *ids ? SW_OK : sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory");
}

/* ---------------------------------------------------------------- decode */

/* Appends the bytes of one SentencePiece token: a <0xXX> byte token as its byte, U+2581 as a space (the
 * first token's leading one dropped when the tokenizer adds a space prefix). */
static void decode_spm_token(const sw_tokenizer_t *tok, int32_t id, int first, sw_buf_t *out) {
  const char *s = tok->tokens[id];
  size_t n = tok->token_lens[id];
  unsigned hi, lo;
  if (tok->token_types[id] == SW_TOKEN_BYTE && n == 6 && sscanf(s, "<0x%1x%1x>", &hi, &lo) == 2) {
    char b = (char)(hi << 4 | lo);
    sw_buf_append(out, &b, 1);
    return;
  }
  for (size_t off = 0; off < n;) {
    if (n - off >= 3 && memcmp(s + off, "\xE2\x96\x81", 3) == 0) {
      if (!(first && off == 0 && tok->add_space_prefix)) sw_buf_append(out, " ", 1);
      off += 3;
    } else {
      sw_buf_append(out, s + off, 1);
      off++;
    }
  }
}

/* Appends the bytes of one byte-level token: each mapped character back to its byte. */
static void decode_bpe_token(const sw_tokenizer_t *tok, int32_t id, sw_buf_t *out) {
  const char *s = tok->tokens[id];
  size_t n = tok->token_lens[id];
  for (size_t off = 0; off < n;) {
    uint32_t cp;
    size_t k = utf8_next((const unsigned char *)s + off, n - off, &cp);
    int byte = cp < 0x200 ? tok->cp_byte[cp] : -1;
    if (byte >= 0) {
      char ch = (char)byte;
      sw_buf_append(out, &ch, 1);
    } else {
      sw_buf_append(out, s + off, k);
    }
    off += k;
  }
}

sw_rc sw_tokenizer_decode(const sw_tokenizer_t *tok, const int32_t *ids, size_t n_ids, sw_buf_t *out, sw_err_t *err) {
  for (size_t i = 0; i < n_ids; i++) {
    if (ids[i] < 0 || (size_t)ids[i] >= tok->n_tokens)
      return sw_err_set(err, SW_ERR_RANGE, "tokenizer: token id %d out of range [0, %zu)", ids[i], tok->n_tokens);
    int type = tok->token_types[ids[i]];
    if (type == SW_TOKEN_CONTROL || type == SW_TOKEN_USER_DEFINED)
      sw_buf_append(out, tok->tokens[ids[i]], tok->token_lens[ids[i]]);
    else if (tok->spm)
      decode_spm_token(tok, ids[i], i == 0, out);
    else
      decode_bpe_token(tok, ids[i], out);
  }
  return sw_buf_ok(out) ? SW_OK : sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory");
}

/* ---------------------------------------------------------------- construction */

size_t sw_tokenizer_vocab_size(const sw_tokenizer_t *tok) { return tok->n_tokens; }

void sw_tokenizer_free(sw_tokenizer_t *tok) {
  if (!tok) return;
  for (size_t i = 0; i < tok->n_tokens && tok->tokens; i++) free(tok->tokens[i]);
  free(tok->tokens);
  free(tok->token_lens);
  free(tok->token_types);
  free(tok->str_table);
  free(tok->pair_table);
  free(tok->specials);
  free(tok->spm_rank);
  free(tok);
}

static sw_rc tokenizer_copy_vocab(sw_tokenizer_t *tok, const sw_vocab_spec_t *spec, sw_err_t *err) {
  size_t n = spec->n_tokens;
  tok->tokens = calloc(n, sizeof *tok->tokens);
  tok->token_lens = calloc(n, sizeof *tok->token_lens);
  tok->token_types = calloc(n, sizeof *tok->token_types);
  tok->str_cap = pow2_at_least(2 * n);
  tok->str_table = calloc(tok->str_cap, sizeof *tok->str_table);
  if (!tok->tokens || !tok->token_lens || !tok->token_types || !tok->str_table)
    return sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory for %zu tokens", n);
  for (size_t i = 0; i < n; i++) {
    size_t len = spec->token_lens[i];
    tok->tokens[i] = malloc(len + 1);
    if (!tok->tokens[i]) return sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory");
    memcpy(tok->tokens[i], spec->tokens[i], len);
    tok->tokens[i][len] = '\0';
    tok->token_lens[i] = len;
    tok->token_types[i] = spec->token_types ? spec->token_types[i] : SW_TOKEN_NORMAL;
    tok->n_tokens = i + 1;
    if (sw_tokenizer_lookup(tok, tok->tokens[i], len) != -1)
      return sw_err_set(err, SW_ERR_PARSE, "tokenizer: token %zu duplicates an earlier token", i);
    uint64_t h = fnv1a(tok->tokens[i], len);
    size_t j = h & (tok->str_cap - 1);
    while (tok->str_table[j].hash) j = (j + 1) & (tok->str_cap - 1);
    tok->str_table[j] = (str_slot_t){h, (int32_t)i};
  }
  return SW_OK;
}

static sw_rc tokenizer_add_merges(sw_tokenizer_t *tok, const sw_vocab_spec_t *spec, sw_err_t *err) {
  tok->pair_cap = pow2_at_least(2 * spec->n_merges + 2);
  tok->pair_table = calloc(tok->pair_cap, sizeof *tok->pair_table);
  char *joined = malloc(1);
  if (!tok->pair_table || !joined) {
    free(joined);
    return sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory for %zu merges", spec->n_merges);
  }
  sw_rc rc = SW_OK;
  for (size_t r = 0; r < spec->n_merges && !rc; r++) {
    const char *m = spec->merges[r];
    size_t len = spec->merge_lens[r];
    const char *sp = len > 1 ? memchr(m + 1, ' ', len - 1) : NULL;
    if (!sp) {
      rc = sw_err_set(err, SW_ERR_PARSE, "tokenizer: merge %zu has no separating space", r);
      break;
    }
    size_t llen = (size_t)(sp - m), rlen = len - llen - 1;
    char *grown = realloc(joined, len);
    if (!grown) {
      rc = sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory");
      break;
    }
    joined = grown;
    memcpy(joined, m, llen);
    memcpy(joined + llen, sp + 1, rlen);
    int32_t left = sw_tokenizer_lookup(tok, m, llen), right = sw_tokenizer_lookup(tok, sp + 1, rlen);
    int32_t result = sw_tokenizer_lookup(tok, joined, llen + rlen);
    if (left < 0 || right < 0 || result < 0) {
      rc = sw_err_set(err, SW_ERR_PARSE, "tokenizer: merge %zu ('%.*s') names a token missing from the vocabulary", r,
                      (int)(len > 60 ? 60 : len), m);
      break;
    }
    pair_slot_t *slot = (pair_slot_t *)pair_find(tok, left, right);
    if (!slot->key) *slot = (pair_slot_t){(uint64_t)(left + 1) << 32 | (uint64_t)(right + 1), (int32_t)r, result};
  }
  free(joined);
  return rc;
}

static int special_longer_first(const void *a, const void *b, void *ctx) {
  const sw_tokenizer_t *tok = ctx;
  size_t la = tok->token_lens[*(const int32_t *)a], lb = tok->token_lens[*(const int32_t *)b];
  return la < lb ? 1 : la > lb ? -1 : 0;
}

static sw_rc tokenizer_index_bytes_and_specials(sw_tokenizer_t *tok, sw_err_t *err) {
  memset(tok->cp_byte, 0xFF, sizeof tok->cp_byte);
  for (unsigned b = 0; b < 256; b++) {
    char s[8];
    uint32_t cp = byte_to_cp(b);
    tok->byte_utf8_len[b] = (uint8_t)utf8_put(tok->byte_utf8[b], cp);
    tok->cp_byte[cp] = (int16_t)b;
    if (tok->spm) /* SentencePiece byte-fallback tokens are spelled <0xXX> */
      tok->byte_token[b] = sw_tokenizer_lookup(tok, s, (size_t)snprintf(s, sizeof s, "<0x%02X>", b));
    else
      tok->byte_token[b] = sw_tokenizer_lookup(tok, tok->byte_utf8[b], tok->byte_utf8_len[b]);
  }
  tok->specials = malloc(tok->n_tokens * sizeof *tok->specials);
  if (!tok->specials) return sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory");
  for (size_t i = 0; i < tok->n_tokens; i++)
    if (tok->token_types[i] == SW_TOKEN_CONTROL || tok->token_types[i] == SW_TOKEN_USER_DEFINED)
      tok->specials[tok->n_specials++] = (int32_t)i;
  qsort_r(tok->specials, tok->n_specials, sizeof *tok->specials, special_longer_first, tok);
  return SW_OK;
}

/* Dense ranks of the scores of the tokens that can be merge results (0 = highest score): equal scores share a
 * rank, so ties fall to the leftmost pair as in SentencePiece's BPE.  Control, unknown, byte and unused tokens
 * get -1: SentencePiece never merges into them. */
static int cmp_score_desc(const void *a, const void *b, void *ctx) {
  const float *sc = ctx;
  float x = sc[*(const int32_t *)a], y = sc[*(const int32_t *)b];
  if (isnan(x) || isnan(y)) return isnan(x) - isnan(y); /* NaN last: a NaN compared as "equal" to every score
                                                         * would leave qsort's order of the others undefined */
  return x > y ? -1 : x < y ? 1 : 0;
}

static sw_rc spm_ranks(sw_tokenizer_t *tok, const float *scores, sw_err_t *err) {
  int32_t *order = malloc(tok->n_tokens * sizeof *order);
  tok->spm_rank = malloc(tok->n_tokens * sizeof *tok->spm_rank);
  if (!order || !tok->spm_rank) {
    free(order);
    return sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory");
  }
  for (size_t i = 0; i < tok->n_tokens; i++) order[i] = (int32_t)i;
  qsort_r(order, tok->n_tokens, sizeof *order, cmp_score_desc, (void *)scores);
  int32_t rank = -1;
  for (size_t i = 0; i < tok->n_tokens; i++) {
    if (i == 0 || scores[order[i]] != scores[order[i - 1]]) rank++;
    int t = tok->token_types[order[i]];
    int mergeable = t != SW_TOKEN_CONTROL && t != SW_TOKEN_UNKNOWN && t != SW_TOKEN_BYTE && t != SW_TOKEN_UNUSED;
    tok->spm_rank[order[i]] = mergeable && isfinite(scores[order[i]]) ? rank : -1;
  }
  free(order);
  return SW_OK;
}

/* The pre-tokenizer id of a tokenizer.ggml.pre name (llama.cpp's spellings of the Llama 3 one included). */
static sw_rc parse_pre(const char *pre, int *out, sw_err_t *err) {
  if (strcmp(pre, "smollm") == 0) *out = PRE_SMOLLM;
  else if (strcmp(pre, "gpt2") == 0 || strcmp(pre, "default") == 0) *out = PRE_GPT2;
  else if (strcmp(pre, "llama-bpe") == 0 || strcmp(pre, "llama3") == 0 || strcmp(pre, "llama-v3") == 0) *out = PRE_LLAMA3;
  else
    return sw_err_set(err, SW_ERR_UNSUPPORTED,
                      "tokenizer: pre-tokenizer '%s' is not supported (smollm, gpt2, default, llama-bpe)", pre);
  return SW_OK;
}

sw_rc sw_tokenizer_create(sw_tokenizer_t **out, const sw_vocab_spec_t *spec, sw_err_t *err) {
  if (!spec->n_tokens || spec->n_tokens > INT32_MAX / 2)
    return sw_err_set(err, SW_ERR_INVALID, "tokenizer: vocabulary size %zu out of range", spec->n_tokens);
  int pre = PRE_GPT2;
  sw_rc prc = spec->spm ? SW_OK : parse_pre(spec->pre ? spec->pre : "gpt2", &pre, err);
  if (prc) return prc;
  if (spec->spm && !spec->scores) return sw_err_set(err, SW_ERR_INVALID, "tokenizer: SentencePiece vocabulary without scores");
  if (spec->unk_id >= (int32_t)spec->n_tokens)
    return sw_err_set(err, SW_ERR_RANGE, "tokenizer: unknown-token id %d out of range", spec->unk_id);
  if (spec->add_bos && (spec->bos_id < 0 || spec->bos_id >= (int32_t)spec->n_tokens))
    return sw_err_set(err, SW_ERR_RANGE, "tokenizer: BOS id %d out of range (vocabulary of %zu)", spec->bos_id,
                      spec->n_tokens);
  sw_tokenizer_t *tok = calloc(1, sizeof *tok);
  if (!tok) return sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory");
  tok->pre = pre;
  tok->spm = spec->spm;
  tok->add_space_prefix = spec->add_space_prefix;
  tok->unk_id = spec->unk_id;
  tok->bos_id = spec->add_bos ? spec->bos_id : -1;
  sw_rc rc = tokenizer_copy_vocab(tok, spec, err);
  if (!rc) rc = spec->spm ? spm_ranks(tok, spec->scores, err) : tokenizer_add_merges(tok, spec, err);
  if (!rc) rc = tokenizer_index_bytes_and_specials(tok, err);
  if (rc) {
    sw_tokenizer_free(tok);
    return rc;
  }
  *out = tok;
  return SW_OK;
}

int32_t sw_tokenizer_bos(const sw_tokenizer_t *tok) { return tok->bos_id; }

sw_rc sw_tokenizer_prepend_bos(const sw_tokenizer_t *tok, int32_t **ids, size_t *n_ids, sw_err_t *err) {
  if (tok->bos_id < 0) return SW_OK;
  int32_t *grown = realloc(*ids, (*n_ids + 1) * sizeof *grown);
  if (!grown) return sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory");
  memmove(grown + 1, grown, *n_ids * sizeof *grown);
  grown[0] = tok->bos_id;
  *ids = grown;
  (*n_ids)++;
  return SW_OK;
}
