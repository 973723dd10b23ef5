/* sw_tokenizer: byte-level BPE.  Pipeline for encode: UTF-8 decode (keeping byte offsets) ->
 * pre-tokenize into pieces (smollm: \p{N} alone, then the GPT-2 split) -> each piece's bytes mapped
 * to their single-byte tokens -> BPE merges by rank with a heap over a linked list (O(n log n) per
 * piece, so a hostile 1 MB run of spaces costs no more than ordinary text). */
#include "models/sw_tokenizer.h"

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
  int          split_digits; /* 1 for the smollm pre-tokenizer */
  int32_t      unk_id;
  int32_t     *specials;     /* control / user-defined token ids, longest text first */
  size_t       n_specials;
};

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
  int32_t id;         /* current token id */
  int32_t prev, next; /* neighbours in the list, -1 at the ends */
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

static void bpe_try_pair(const sw_tokenizer_t *tok, bpe_work_t *w, int32_t left) {
  int32_t right = w->syms[left].next;
  if (left < 0 || right < 0) return;
  const pair_slot_t *m = pair_find(tok, w->syms[left].id, w->syms[right].id);
  if (m->key) heap_push(w, (bpe_cand_t){m->rank, left, right});
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

/* Appends the BPE tokens of bytes text[0..n) to ids. */
static sw_rc bpe_piece(const sw_tokenizer_t *tok, bpe_work_t *w, const unsigned char *text, size_t n, int32_t **ids,
                       size_t *n_ids, size_t *cap_ids, sw_err_t *err) {
  if (!bpe_reserve(w, n)) return sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory");
  w->n_heap = 0;
  for (size_t i = 0; i < n; i++) {
    int32_t id = tok->byte_token[text[i]] >= 0 ? tok->byte_token[text[i]] : tok->unk_id;
    if (id < 0) return sw_err_set(err, SW_ERR_NOTFOUND, "tokenizer: byte 0x%02x has no token and no unknown token", text[i]);
    w->syms[i] = (bpe_sym_t){id, (int32_t)i - 1, i + 1 < n ? (int32_t)i + 1 : -1};
  }
  for (size_t i = 0; i + 1 < n; i++) bpe_try_pair(tok, w, (int32_t)i);
  while (w->n_heap) {
    bpe_cand_t c = heap_pop(w);
    bpe_sym_t *l = &w->syms[c.left];
    if (l->id == BPE_DEAD || l->next != c.right) continue; /* stale: the left symbol was merged with something else */
    const pair_slot_t *m = pair_find(tok, l->id, w->syms[c.right].id);
    if (!m->key || m->rank != c.rank) continue;
    l->id = m->result;
    int32_t after = w->syms[c.right].next;
    w->syms[c.right].id = BPE_DEAD;
    w->syms[c.right].next = -1;
    l->next = after;
    if (after >= 0) w->syms[after].prev = c.left;
    if (l->prev >= 0) bpe_try_pair(tok, w, l->prev);
    bpe_try_pair(tok, w, c.left);
  }
  for (int32_t i = n ? 0 : -1; i >= 0; i = w->syms[i].next) {
    if (*n_ids == *cap_ids) {
      size_t nc = *cap_ids ? *cap_ids * 2 : 64;
      int32_t *grown = realloc(*ids, nc * sizeof *grown);
      if (!grown) return sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory");
      *ids = grown;
      *cap_ids = nc;
    }
    (*ids)[(*n_ids)++] = w->syms[i].id;
  }
  return SW_OK;
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

typedef struct encode_state {
  const sw_tokenizer_t *tok;
  const unsigned char  *text;
  bpe_work_t            work;
  int32_t              *ids;
  size_t                n_ids, cap_ids;
  sw_err_t             *err;
} encode_state_t;

/* Splits code points c[0..n) with the GPT-2 rule and runs BPE on each piece. */
static sw_rc encode_gpt2_span(encode_state_t *st, const cpt_t *c, size_t n) {
  for (size_t pos = 0; pos < n;) {
    size_t k = gpt2_match(c, pos, n);
    size_t from = c[pos].off, to = c[pos + k - 1].off + c[pos + k - 1].len;
    sw_rc rc = bpe_piece(st->tok, &st->work, st->text + from, to - from, &st->ids, &st->n_ids, &st->cap_ids, st->err);
    if (rc) return rc;
    pos += k;
  }
  return SW_OK;
}

/* Pre-tokenizes c[0..n) (smollm: each \p{N} alone first) and encodes the pieces. */
static sw_rc encode_span(encode_state_t *st, const cpt_t *c, size_t n) {
  if (!st->tok->split_digits) return encode_gpt2_span(st, c, n);
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
  if (st->n_ids == st->cap_ids) {
    size_t nc = st->cap_ids ? st->cap_ids * 2 : 64;
    int32_t *grown = realloc(st->ids, nc * sizeof *grown);
    if (!grown) return sw_err_set(st->err, SW_ERR_NOMEM, "tokenizer: out of memory");
    st->ids = grown;
    st->cap_ids = nc;
  }
  st->ids[st->n_ids++] = id;
  return SW_OK;
}

sw_rc sw_tokenizer_encode(const sw_tokenizer_t *tok, const char *text, size_t len, int parse_special, int32_t **ids,
                          size_t *n_ids, sw_err_t *err) {
  if (len > UINT32_MAX) return sw_err_set(err, SW_ERR_RANGE, "tokenizer: input of %zu bytes is too large", len);
  encode_state_t st = {tok, (const unsigned char *)text, {0}, NULL, 0, 0, err};
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

sw_rc sw_tokenizer_decode(const sw_tokenizer_t *tok, const int32_t *ids, size_t n_ids, sw_buf_t *out, sw_err_t *err) {
  for (size_t i = 0; i < n_ids; i++) {
    if (ids[i] < 0 || (size_t)ids[i] >= tok->n_tokens)
      return sw_err_set(err, SW_ERR_RANGE, "tokenizer: token id %d out of range [0, %zu)", ids[i], tok->n_tokens);
    const char *s = tok->tokens[ids[i]];
    size_t n = tok->token_lens[ids[i]];
    int type = tok->token_types[ids[i]];
    if (type == SW_TOKEN_CONTROL || type == SW_TOKEN_USER_DEFINED) {
      sw_buf_append(out, s, n);
      continue;
    }
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
    char s[4];
    uint32_t cp = byte_to_cp(b);
    tok->byte_token[b] = sw_tokenizer_lookup(tok, s, utf8_put(s, cp));
    tok->cp_byte[cp] = (int16_t)b;
  }
  tok->specials = malloc(tok->n_tokens * sizeof *tok->specials);
  if (!tok->specials) return sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory");
  for (size_t i = 0; i < tok->n_tokens; i++)
    if (tok->token_types[i] == SW_TOKEN_CONTROL || tok->token_types[i] == SW_TOKEN_USER_DEFINED)
      tok->specials[tok->n_specials++] = (int32_t)i;
  qsort_r(tok->specials, tok->n_specials, sizeof *tok->specials, special_longer_first, tok);
  return SW_OK;
}

sw_rc sw_tokenizer_create(sw_tokenizer_t **out, const sw_vocab_spec_t *spec, sw_err_t *err) {
  if (!spec->n_tokens || spec->n_tokens > INT32_MAX / 2)
    return sw_err_set(err, SW_ERR_INVALID, "tokenizer: vocabulary size %zu out of range", spec->n_tokens);
  const char *pre = spec->pre ? spec->pre : "gpt2";
  int split_digits;
  if (strcmp(pre, "smollm") == 0) split_digits = 1;
  else if (strcmp(pre, "gpt2") == 0 || strcmp(pre, "default") == 0) split_digits = 0;
  else return sw_err_set(err, SW_ERR_UNSUPPORTED, "tokenizer: pre-tokenizer '%s' is not supported (smollm, gpt2)", pre);
  if (spec->unk_id >= (int32_t)spec->n_tokens)
    return sw_err_set(err, SW_ERR_RANGE, "tokenizer: unknown-token id %d out of range", spec->unk_id);
  sw_tokenizer_t *tok = calloc(1, sizeof *tok);
  if (!tok) return sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory");
  tok->split_digits = split_digits;
  tok->unk_id = spec->unk_id;
  sw_rc rc = tokenizer_copy_vocab(tok, spec, err);
  if (!rc) rc = tokenizer_add_merges(tok, spec, err);
  if (!rc) rc = tokenizer_index_bytes_and_specials(tok, err);
  if (rc) {
    sw_tokenizer_free(tok);
    return rc;
  }
  *out = tok;
  return SW_OK;
}
