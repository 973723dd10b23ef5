/* sw_trial_task: multiple-choice evaluation inside the model workload (workers/sw_trial_task.h). */
#include "workers/sw_trial_task.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/sw_keys.h"
#include "models/sw_tokenizer.h"

#define TT_CLOZE_ITEMS 200
#define TT_MAX_TEXT ((int64_t)1 << 31)

sw_rc sw_trial_task_parse(sw_trial_task_cfg_t *c, const sw_json_t *j, sw_err_t *err) {
#define TT_KEY(field, key) {key, offsetof(sw_trial_task_cfg_t, field)}
  static const sw_keybind_t keys[] = {
      TT_KEY(task, "task"),          TT_KEY(items, "task_items"), TT_KEY(offset, "task_offset"),
      TT_KEY(bytes, "task_bytes"),   TT_KEY(choices, "task_choices"), TT_KEY(context_bytes, "task_context_bytes"),
      TT_KEY(seed, "task_seed"),     TT_KEY(ctx, "task_ctx"),
  };
#undef TT_KEY
  memset(c, 0, sizeof *c); /* ranges: experiments/sw_keys_table.c (model workload) */
  sw_rc rc = sw_keys_read(sw_keytable("model"), j, keys, sizeof keys / sizeof keys[0], c, err);
  if (rc) return sw_err_prefix(err, "model");
  if (c->bytes > TT_MAX_TEXT || c->context_bytes > SW_MCTASK_MAX_TEXT / 2)
    return sw_err_set(err, SW_ERR_RANGE, "model: task_bytes <= %lld, task_context_bytes <= %u", (long long)TT_MAX_TEXT,
                      SW_MCTASK_MAX_TEXT / 2);
  return SW_OK;
}

static void tt_destroy(void *v) {
  sw_trial_task_t *t = v;
  sw_mctask_free(&t->task);
  sw_mc_scores_free(&t->dense);
  free(t);
}

static sw_rc read_all(const char *path, char **buf, size_t *len, sw_err_t *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return sw_err_set(err, SW_ERR_IO, "model: task: cannot open text '%s'", path);
  long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
  *buf = n > 0 && n < TT_MAX_TEXT && fseek(f, 0, SEEK_SET) == 0 ? malloc((size_t)n) : NULL;
  size_t got = *buf ? fread(*buf, 1, (size_t)n, f) : 0;
  fclose(f);
  if (*buf && got == (size_t)n) return *len = got, SW_OK;
  free(*buf);
  return sw_err_set(err, SW_ERR_IO, "model: task: cannot read text '%s'", path);
}

/* The cloze span: [offset, offset + bytes) clipped to the text, disjoint from the calibration span. */
static sw_rc cloze_build(sw_trial_task_t *t, const sw_trial_task_cfg_t *c, const sw_trial_task_src_t *src,
                         sw_err_t *err) {
  char *text = NULL;
  size_t len = 0;
  sw_rc rc = read_all(src->text_path, &text, &len, err);
  if (rc) return rc;
  size_t b0 = c->offset >= 0 ? (size_t)c->offset : len / 4 * 3;
  while (c->offset < 0 && b0 < len && b0 > 0 && text[b0 - 1] != '\n') b0++;
  size_t b1 = b0 + (size_t)c->bytes < len ? b0 + (size_t)c->bytes : len;
  const char *base = strrchr(src->text_path, '/');
  if (b0 >= len) rc = sw_err_set(err, SW_ERR_RANGE, "model: task_offset %zu beyond the text (%zu bytes)", b0, len);
  else if (b0 < src->calib_b1 && src->calib_b0 < b1)
    rc = sw_err_set(err, SW_ERR_INVALID, "model: cloze span [%zu,%zu) overlaps the calibration span [%zu,%zu)", b0, b1,
                    src->calib_b0, src->calib_b1);
  sw_cloze_cfg_t cc = {b0, b1, c->items ? (size_t)c->items : TT_CLOZE_ITEMS, (int)c->choices,
                       (size_t)c->context_bytes, (uint64_t)c->seed};
  if (!rc) rc = sw_mctask_cloze(&t->task, text, len, &cc, base ? base + 1 : src->text_path, err);
  t->span_b0 = b0, t->span_b1 = b1;
  free(text);
  return rc;
}

sw_rc sw_trial_task_prepare(sw_trial_cache_t *cache, const sw_trial_task_cfg_t *c, const sw_trial_task_src_t *src,
                            const sw_llama_t *m, sw_llama_state_t *s, const sw_tokenizer_t *tok,
                            sw_trial_task_t **out, sw_err_t *err) {
  char key[4096];
  snprintf(key, sizeof key, "task:%s:%s:%s:%s:%lld:%lld:%lld:%lld:%lld:%lld:%lld:%zu", m->sha256, src->weights, c->task,
           src->text_path, (long long)c->items, (long long)c->offset, (long long)c->bytes, (long long)c->choices,
           (long long)c->context_bytes, (long long)c->seed, (long long)c->ctx, src->calib_b0);
  sw_trial_task_t *t = sw_trial_cache_get(cache, key);
  if (t) return *out = t, SW_OK;
  if (!(t = calloc(1, sizeof *t))) return sw_err_set(err, SW_ERR_NOMEM, "model: out of memory");
  sw_rc rc = strcmp(c->task, "cloze") == 0 ? cloze_build(t, c, src, err)
                                            : sw_mctask_load(&t->task, c->task, (size_t)c->items, err);
  if (!rc) rc = sw_mc_score(m, s, NULL, tok, &t->task, &t->dense, err);
  if (rc) return tt_destroy(t), sw_err_prefix(err, "model: task");
  if ((rc = sw_trial_cache_put(cache, key, t, tt_destroy))) return sw_err_set(err, rc, "model: cache full");
  *out = t;
  return SW_OK;
}

/* The task's identity: items, SHA-256 (value: its first 48 bits; unit: the full hex digest), cloze span. */
static void put_identity(sw_trial_out_t *out, const sw_trial_task_t *t, const sw_tokenizer_t *tok) {
  char head[13];
  memcpy(head, t->task.sha256, 12);
  head[12] = '\0';
  sw_trial_out_metric(out, "task_items", (double)t->task.n_items, "count");
  sw_trial_out_metric(out, "task_sha256", (double)strtoull(head, NULL, 16), t->task.sha256);
  sw_trial_out_metric(out, "task_span_start", (double)t->span_b0, "byte");
  sw_trial_out_metric(out, "task_span_end", (double)t->span_b1, "byte");
  sw_trial_out_metric(out, "task_bos", (double)sw_tokenizer_bos(tok), "id");
}

/* task_acc<suffix>, task_acc<suffix>_se, task_acc_norm<suffix>, task_acc_norm<suffix>_se (the reports show a
 * NAME_se companion as ± NAME). */
static void put_summary(sw_trial_out_t *out, const sw_mc_summary_t *s, const char *suffix) {
  const char  *base[4] = {"acc", "acc", "acc_norm", "acc_norm"};
  const double values[4] = {s->acc, s->acc_se, s->acc_norm, s->acc_norm_se};
  for (int i = 0; i < 4; i++) {
    char name[64];
    snprintf(name, sizeof name, "task_%s%s%s", base[i], suffix, i % 2 ? "_se" : "");
    sw_trial_out_metric(out, name, values[i], "fraction");
  }
}

static void put_paired(sw_trial_out_t *out, const sw_mc_paired_t *p, const char *which) {
  char name[64];
  snprintf(name, sizeof name, "task_%s_diff", which);
  sw_trial_out_metric(out, name, p->diff, "fraction");
  snprintf(name, sizeof name, "task_%s_diff_se", which);
  sw_trial_out_metric(out, name, p->diff_se, "fraction");
  snprintf(name, sizeof name, "task_%s_mcnemar_p", which);
  sw_trial_out_metric(out, name, p->mcnemar_p, "p-value");
  snprintf(name, sizeof name, "task_%s_only_method", which);
  sw_trial_out_metric(out, name, (double)p->only_method, "count");
  snprintf(name, sizeof name, "task_%s_only_dense", which);
  sw_trial_out_metric(out, name, (double)p->only_dense, "count");
}

sw_rc sw_trial_task_run(const sw_trial_task_t *t, const sw_llama_t *m, sw_llama_state_t *s, const sw_llama_ffn_t *ffn,
                        const sw_tokenizer_t *tok, sw_trial_out_t *out, sw_err_t *err) {
  return sw_trial_task_run_each(t, m, s, ffn, NULL, NULL, tok, out, err);
}

sw_rc sw_trial_task_run_each(const sw_trial_task_t *t, const sw_llama_t *m, sw_llama_state_t *s,
                             const sw_llama_ffn_t *ffn, sw_mc_before_item_fn before, void *before_ctx,
                             const sw_tokenizer_t *tok, sw_trial_out_t *out, sw_err_t *err) {
  sw_mc_scores_t sc = t->dense;
  sw_rc rc = ffn ? sw_mc_score_each(m, s, ffn, before, before_ctx, tok, &t->task, &sc, err) : SW_OK;
  if (rc) return sw_err_prefix(err, "model: task");
  sw_mc_summary_t sm, sd;
  sw_mc_summarise(&t->task, &sc, &sm);
  sw_mc_summarise(&t->task, &t->dense, &sd);
  put_identity(out, t, tok);
  sw_trial_out_metric(out, "task_chance", sm.chance, "fraction");
  put_summary(out, &sm, "");
  put_summary(out, &sd, "_dense");
  sw_mc_paired_t p;
  sw_mc_pair(&t->task, &t->dense, &sc, 0, &p);
  put_paired(out, &p, "acc");
  sw_mc_pair(&t->task, &t->dense, &sc, 1, &p);
  put_paired(out, &p, "acc_norm");
  sw_trial_out_metric(out, "task_seconds", sc.seconds, "s");
  if (ffn) sw_mc_scores_free(&sc);
  return SW_OK;
}
