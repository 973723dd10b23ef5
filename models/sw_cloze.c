/* sw_cloze: the built-in cloze task, generated offline from any text (models/sw_mctask.h).
 *
 * Definition (LAMBADA-style, Paperno et al. 2016, arXiv 1606.06031; NOT the published LAMBADA benchmark):
 * scanning text[b0, b1) forward, a target is a word of ASCII letters (3..24 of them) preceded by one space
 * and followed by '.', '!' or '?' (the last word of a sentence) that also occurs as a whole word in the
 * context before it.  The context is the text from the first word start at or after (target - 1 -
 * context_bytes) up to, not including, the space before the target; the gold choice is " target".  The next
 * item's context starts after this target, so contexts never overlap.  The n_choices - 1 distractors are
 * other distinct words of the span (same length limits, same capitalisation of the first letter, different
 * from the target ignoring case), drawn with a splitmix64 generator seeded by (seed, item index); the gold
 * position is drawn from the same generator.  The requirement that the target occur in the context mimics
 * LAMBADA's selection of passages whose last word is predictable from the passage; chance is 1/n_choices. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_buf.h"
#include "models/sw_mctask.h"

#define CLOZE_MIN_WORD 3
#define CLOZE_MAX_WORD 24

typedef struct cloze_word {
  const char *s;
  size_t      n;
} cloze_word_t;

typedef struct cloze_vocab {
  cloze_word_t *w;
  size_t        n;
} cloze_vocab_t;

static int is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* Length of the letter run starting at p (bounded by end). */
static size_t word_len(const char *p, const char *end) {
  size_t n = 0;
  while (p + n < end && is_letter(p[n])) n++;
  return n;
}

static int word_cmp(const void *a, const void *b) {
  const cloze_word_t *x = a, *y = b;
  size_t n = x->n < y->n ? x->n : y->n;
  int c = memcmp(x->s, y->s, n);
  return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* The distinct words of the span (letter runs of CLOZE_MIN_WORD..CLOZE_MAX_WORD letters), sorted. */
static sw_rc vocab_build(cloze_vocab_t *v, const char *text, size_t b0, size_t b1, sw_err_t *err) {
  size_t cap = 1024;
  int    nomem = 0;
  v->n = 0;
  v->w = malloc(cap * sizeof *v->w);
  for (size_t i = b0; v->w && !nomem && i < b1;) {
    size_t n = word_len(text + i, text + b1);
    if (n == 0) {
      i++;
      continue;
    }
    if (n >= CLOZE_MIN_WORD && n <= CLOZE_MAX_WORD && (i == b0 || !is_letter(text[i - 1]))) {
      if (v->n == cap) {
        cloze_word_t *nw = realloc(v->w, 2 * cap * sizeof *nw);
        if (!(nomem = !nw)) v->w = nw, cap *= 2;
        if (nomem) break;
      }
      v->w[v->n++] = (cloze_word_t){text + i, n};
    }
    i += n;
  }
  if (!v->w || nomem) return free(v->w), v->w = NULL, sw_err_set(err, SW_ERR_NOMEM, "cloze: out of memory");
  qsort(v->w, v->n, sizeof *v->w, word_cmp);
  size_t u = 0;
  for (size_t i = 0; i < v->n; i++)
    if (u == 0 || word_cmp(&v->w[u - 1], &v->w[i]) != 0) v->w[u++] = v->w[i];
  v->n = u;
  return SW_OK;
}

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static int same_ignoring_case(const char *a, size_t na, const char *b, size_t nb) {
  if (na != nb) return 0;
  for (size_t i = 0; i < na; i++)
    if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i])) return 0;
  return 1;
}

/* 1 when the word w (n letters) occurs as a whole word in text[a, b). */
static int occurs_in(const char *text, size_t a, size_t b, const char *w, size_t n) {
  for (size_t i = a; i + n <= b; i++)
    if (memcmp(text + i, w, n) == 0 && (i == a || !is_letter(text[i - 1])) && (i + n == b || !is_letter(text[i + n])))
      return 1;
  return 0;
}

/* Draws k distractors for target (tw, tn) into out[k]; 0 when the vocabulary has too few candidates. */
static int draw_distractors(const cloze_vocab_t *v, const char *tw, size_t tn, uint64_t *rng, cloze_word_t *out, int k) {
  int upper = isupper((unsigned char)tw[0]) != 0, got = 0;
  for (int attempt = 0; got < k && attempt < 64 * k + 1024; attempt++) {
    const cloze_word_t *c = &v->w[splitmix64(rng) % v->n];
    int ok = (isupper((unsigned char)c->s[0]) != 0) == upper && !same_ignoring_case(c->s, c->n, tw, tn);
    for (int j = 0; ok && j < got; j++) ok = word_cmp(&out[j], c) != 0;
    if (ok) out[got++] = *c;
  }
  return got == k;
}

/* Appends item (context text[cs, ts - 1), target text[ts, ts + tn)) as one JSONL line. */
static int append_item(sw_buf_t *b, const char *text, size_t cs, size_t ts, size_t tn, const cloze_vocab_t *v,
                       const sw_cloze_cfg_t *cfg, size_t index) {
  cloze_word_t d[SW_MCTASK_MAX_CHOICES];
  uint64_t rng = cfg->seed * 0x2545F4914F6CDD1Dull + index;
  if (!draw_distractors(v, text + ts, tn, &rng, d, cfg->n_choices - 1)) return 0;
  int gold = (int)(splitmix64(&rng) % (uint64_t)cfg->n_choices);
  sw_buf_printf(b, "{\"id\":\"cloze@%zu\",\"context\":", ts);
  sw_buf_json_string(b, text + cs, ts - 1 - cs);
  sw_buf_puts(b, ",\"choices\":[");
  for (int c = 0, j = 0; c < cfg->n_choices; c++) {
    char word[CLOZE_MAX_WORD + 2] = " ";
    const cloze_word_t *w = c == gold ? &(cloze_word_t){text + ts, tn} : &d[j++];
    memcpy(word + 1, w->s, w->n);
    sw_buf_json_string(b, word, w->n + 1);
    sw_buf_puts(b, c + 1 < cfg->n_choices ? "," : "");
  }
  sw_buf_printf(b, "],\"gold\":%d}\n", gold);
  return 1;
}

/* Writes the task's JSONL into b; *n_items gets the items written. */
static void cloze_jsonl(sw_buf_t *b, const char *text, const sw_cloze_cfg_t *cfg, const cloze_vocab_t *v,
                        size_t *n_items) {
  size_t cursor = cfg->b0, i = cfg->b0 + 1;
  *n_items = 0;
  while (i < cfg->b1 && *n_items < cfg->n_items) {
    size_t n = word_len(text + i, text + cfg->b1);
    char after = i + n < cfg->b1 ? text[i + n] : '\0';
    int  target = n >= CLOZE_MIN_WORD && n <= CLOZE_MAX_WORD && text[i - 1] == ' ' && text[i - 2] != ' ' &&
                 (after == '.' || after == '!' || after == '?') && i >= cursor + cfg->context_bytes + 1;
    if (target) {
      size_t cs = i - 1 - cfg->context_bytes;
      while (cs < i - 1 && !(cs > 0 && is_letter(text[cs]) && (text[cs - 1] == ' ' || text[cs - 1] == '\n'))) cs++;
      if (cs < i - 1 && occurs_in(text, cs, i - 1, text + i, n) &&
          append_item(b, text, cs, i, n, v, cfg, *n_items)) {
        (*n_items)++;
        cursor = i + n;
      }
    }
    i += n ? n : 1;
  }
}

sw_rc sw_mctask_cloze(sw_mctask_t *t, const char *text, size_t len, const sw_cloze_cfg_t *cfg, const char *name_hint,
                      sw_err_t *err) {
  memset(t, 0, sizeof *t);
  if (cfg->n_choices < 2 || cfg->n_choices > SW_MCTASK_MAX_CHOICES)
    return sw_err_set(err, SW_ERR_RANGE, "cloze: %d choices (2..%d allowed)", cfg->n_choices, SW_MCTASK_MAX_CHOICES);
  if (cfg->b0 >= cfg->b1 || cfg->b1 > len || cfg->n_items == 0 || cfg->context_bytes < 16 ||
      cfg->context_bytes > SW_MCTASK_MAX_TEXT / 2)
    return sw_err_set(err, SW_ERR_RANGE, "cloze: span [%zu,%zu) of %zu bytes, %zu items, context of %zu bytes "
                      "(16..%u) out of range", cfg->b0, cfg->b1, len, cfg->n_items, cfg->context_bytes,
                      SW_MCTASK_MAX_TEXT / 2);
  cloze_vocab_t v;
  sw_rc rc = vocab_build(&v, text, cfg->b0, cfg->b1, err);
  if (rc) return rc;
  sw_buf_t b = SW_BUF_INIT;
  size_t n = 0;
  if (v.n > (size_t)cfg->n_choices * 4) cloze_jsonl(&b, text, cfg, &v, &n);
  free(v.w);
  char name[512];
  snprintf(name, sizeof name, "cloze:%.300s:[%zu,%zu)", name_hint, cfg->b0, cfg->b1);
  if (!sw_buf_ok(&b)) rc = sw_err_set(err, SW_ERR_NOMEM, "cloze: out of memory");
  else if (n == 0) rc = sw_err_set(err, SW_ERR_RANGE, "%s: no cloze item found in the span", name);
  else rc = sw_mctask_parse(t, sw_buf_str(&b), b.len, name, 0, err);
  sw_buf_free(&b);
  return rc;
}
