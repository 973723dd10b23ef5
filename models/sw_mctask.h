/* sw_mctask: multiple-choice tasks scored by log-likelihood, the lm-evaluation-harness method.
 * A task is JSON Lines, one item a line: {"context": "...", "choices": ["...", ...], "gold": N, "id": ...}
 * ("id" optional, a string or an integer; other keys are ignored; blank lines are skipped).  The parser is
 * bounded (line, string, choice and item limits below) and every malformed line is an error naming
 * "file:line".  Each choice is scored by the summed log-probability of its continuation tokens given the
 * context (models/sw_mcscore.c); acc takes the highest sum, acc_norm the highest sum per byte of the choice.
 * The built-in cloze task (sw_mctask_cloze, models/sw_cloze.c) generates such a task from a byte span of any
 * text.  Every task carries the SHA-256 of its JSONL bytes, recorded with each trial. */
#ifndef SW_MCTASK_H
#define SW_MCTASK_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"
#include "models/sw_llama.h"
#include "models/sw_tokenizer.h"

#define SW_MCTASK_MAX_LINE (1u << 20)  /* bytes per JSONL line */
#define SW_MCTASK_MAX_TEXT (1u << 16)  /* bytes per context or choice */
#define SW_MCTASK_MAX_CHOICES 32
#define SW_MCTASK_MAX_ITEMS 100000
#define SW_MCTASK_MAX_FILE (1u << 30)  /* bytes of a task file */

typedef struct sw_mc_item {
  char   *id;          /* the item's "id" as text, or "line N" when absent (owned) */
  char   *context;     /* NUL-terminated (owned) */
  size_t  context_len;
  char  **choices;     /* choices[n_choices], NUL-terminated (owned) */
  size_t *choice_lens;
  int     n_choices;
  int     gold;        /* index of the correct choice */
} sw_mc_item_t;

typedef struct sw_mctask {
  sw_mc_item_t *items;
  size_t        n_items;
  char          sha256[65]; /* hex SHA-256 of the JSONL bytes parsed */
  char          name[512];  /* file path, or "cloze:<text>:[b0,b1)" */
} sw_mctask_t;

/* Parses JSONL text (len bytes); name prefixes every error ("tasks/arc.jsonl:17: gold 4 outside 0..3").
 * max_items > 0 keeps only the first max_items items.  Free with sw_mctask_free (also after an error). */
sw_rc sw_mctask_parse(sw_mctask_t *t, const char *text, size_t len, const char *name, size_t max_items,
                      sw_err_t *err);
/* Reads and parses a task file (the SHA-256 is of the whole file). */
sw_rc sw_mctask_load(sw_mctask_t *t, const char *path, size_t max_items, sw_err_t *err);
void  sw_mctask_free(sw_mctask_t *t);

/* The built-in LAMBADA-style cloze task (models/sw_cloze.c): from text[b0, b1), up to n_items items whose
 * context is about context_bytes of running text ending before the last word of a sentence, whose gold
 * choice is " word", and whose n_choices - 1 distractors are other words of the same span drawn with seed.
 * See the definition above sw_mctask_cloze in models/sw_cloze.c.  name_hint (the text's file name) goes
 * into t->name.  Errors: a span too short for one item, n_choices outside 2..SW_MCTASK_MAX_CHOICES. */
typedef struct sw_cloze_cfg {
  size_t   b0, b1;        /* byte span of the text */
  size_t   n_items;       /* items wanted (fewer when the span runs out) */
  int      n_choices;     /* choices per item, gold included */
  size_t   context_bytes; /* approximate context length */
  uint64_t seed;          /* distractor draw */
} sw_cloze_cfg_t;
sw_rc sw_mctask_cloze(sw_mctask_t *t, const char *text, size_t len, const sw_cloze_cfg_t *cfg, const char *name_hint,
                      sw_err_t *err);

/* Per-choice scores of one run over a task (models/sw_mcscore.c). */
typedef struct sw_mc_scores {
  size_t  n_items;
  size_t *offset;     /* (n_items + 1): item i's choices are ll[offset[i] .. offset[i+1]) */
  double *ll;         /* summed log-probability of each choice's continuation tokens (nats) */
  int    *n_cont;     /* continuation tokens scored per choice */
  int    *pred;       /* per item: argmax ll (first on ties) */
  int    *pred_norm;  /* per item: argmax ll / bytes of the choice */
  double  seconds;
} sw_mc_scores_t;

/* Scores every item of t with the model (ffn NULL = dense).  Per item the context is tokenised alone and
 * with each choice appended; the tokens after the longest common prefix of the two are the continuation
 * (the boundary token may merge context and choice bytes), scored given everything before them.  The state's
 * n_ctx bounds a sequence: longer ones lose tokens from the start of the context.  The shared context prefix is
 * run once and each choice continues from its KV cache, running its continuation tokens but the last (whose
 * logits predict nothing scored; a one-token choice is scored from the context's logits alone).  Errors name the
 * item. */
sw_rc sw_mc_score(const sw_llama_t *m, sw_llama_state_t *s, const sw_llama_ffn_t *ffn, const sw_tokenizer_t *tok,
                  const sw_mctask_t *t, sw_mc_scores_t *out, sw_err_t *err);
/* sw_mc_score with before(before_ctx, i) called just before item i is run (e.g. to change what ffn does per
 * item: the attribution workload's oracle masks, workers/sw_trial_attrib.c); before NULL = sw_mc_score. */
typedef void (*sw_mc_before_item_fn)(void *ctx, size_t item);
sw_rc sw_mc_score_each(const sw_llama_t *m, sw_llama_state_t *s, const sw_llama_ffn_t *ffn, sw_mc_before_item_fn before,
                       void *before_ctx, const sw_tokenizer_t *tok, const sw_mctask_t *t, sw_mc_scores_t *out,
                       sw_err_t *err);
void  sw_mc_scores_free(sw_mc_scores_t *s);

typedef struct sw_mc_summary {
  size_t n_items;
  double acc, acc_se;           /* fraction correct by ll; SE = sample sd / sqrt(n) */
  double acc_norm, acc_norm_se; /* by ll per byte */
  double chance;                /* mean of 1 / n_choices */
} sw_mc_summary_t;
void sw_mc_summarise(const sw_mctask_t *t, const sw_mc_scores_t *s, sw_mc_summary_t *out);

/* Paired comparison of two runs on the same items (method - dense). */
typedef struct sw_mc_paired {
  double  diff, diff_se; /* mean of correct_m - correct_d; SE = sample sd of the differences / sqrt(n) */
  int64_t only_method;   /* items only the method gets right */
  int64_t only_dense;    /* items only dense gets right */
  double  mcnemar_p;     /* exact two-sided McNemar (binomial) p-value on the discordant items */
} sw_mc_paired_t;
/* norm = 0 compares acc, 1 acc_norm. */
void   sw_mc_pair(const sw_mctask_t *t, const sw_mc_scores_t *dense, const sw_mc_scores_t *method, int norm,
                  sw_mc_paired_t *out);
/* Exact two-sided McNemar p-value: min(1, 2 P(X <= min(b, c))) with X ~ Binomial(b + c, 1/2); 1 when b + c = 0. */
double sw_mc_mcnemar_p(int64_t b, int64_t c);

#endif
