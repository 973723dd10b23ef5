/* `sparsweep bench model`: decode and prefill tokens/s of the whole model on one GGUF file: sparsweep dense on
 * f32 and on native weights, the sparse methods (CATS, CHESS and TEAL at 50%) on native weights, and, when
 * built (scripts/build_llamacpp.sh), llama.cpp's llama-bench on the same file and thread count.  Every
 * configuration runs once per repetition in turn (interleaved, the same machine state), per thread count;
 * the table gives medians over repetitions and ratios to sparsweep's native dense and to llama.cpp.  The
 * methods are calibrated on the first --calib tokens of the text; perplexity on the next --eval tokens. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/sw_cli.h"
#include "common/sw_stats.h"
#include "models/sw_calib.h"
#include "models/sw_eval.h"
#include "models/sw_gguf.h"
#include "models/sw_llama.h"
#include "models/sw_method.h"
#include "models/sw_method_native.h"
#include "models/sw_tokenizer_gguf.h"

int cmd_bench_model(int argc, char **argv);

#define BM_MAX_REPS 50
#define BM_MAX_THREADS 4
#define BM_WINDOW 128

typedef struct bm_opts {
  const char *model, *text, *llama_bench;
  int         threads[BM_MAX_THREADS], n_threads;
  int         reps, prompt, decode, calib, eval;
  unsigned    rows; /* bit i: row i is measured (--rows) */
} bm_opts_t;

/* One row of the table: weights, method (NULL = dense), and its measurements per thread count. */
typedef struct bm_row {
  const char             *name;
  sw_llama_weights_kind_t weights;
  const char             *method;
  sw_method_t             M;
  int                     has_method;
  int                     on; /* measured (--rows; llama.cpp also needs llama-bench) */
  double                  ppl;
  double                  dec[BM_MAX_REPS], pre[BM_MAX_REPS];
} bm_row_t;

enum { BM_F32, BM_NATIVE, BM_CATS, BM_CHESS, BM_TEAL, BM_LLAMACPP, BM_ROWS };

static int bm_usage(FILE *f, int rc) {
  fprintf(f,
          "usage: sparsweep bench model [--model FILE] [--text FILE] [--threads 1,2] [--reps N] [--prompt N]\n"
          "                             [--decode N] [--calib N] [--eval N] [--llama-bench PATH]\n"
          "                             [--rows f32,native,cats,chess,teal,llama]\n"
          "Decode/prefill tokens/s of sparsweep dense (f32, native), CATS/CHESS/TEAL 50%% on native weights and\n"
          "llama.cpp's llama-bench (default cache/llamacpp/bin/llama-bench; build it with\n"
          "scripts/build_llamacpp.sh), interleaved per repetition.  --eval 0 skips the perplexity column (else at\n"
          "least %d tokens, one window); --threads takes at most %d counts; --rows measures only the named rows\n"
          "(all by default), e.g. for a profiler.\n", BM_WINDOW, BM_MAX_THREADS);
  return rc;
}

/* --threads 1,2: at most BM_MAX_THREADS counts in 1..64. */
static int parse_threads(const char *s, bm_opts_t *o) {
  int n = sw_cli_parse_int_list(s, 1, 64, o->threads, BM_MAX_THREADS);
  if (n == SW_CLI_LIST_TOO_LONG)
    fprintf(stderr, "sparsweep bench model: --threads takes at most %d thread counts\n", BM_MAX_THREADS);
  o->n_threads = n > 0 ? n : 0;
  return n > 0 ? 0 : -1;
}

static const char *const k_row_keys[BM_ROWS] = {"f32", "native", "cats", "chess", "teal", "llama"};

/* --rows: a comma-separated subset of k_row_keys, as a bit set. */
static int parse_rows(const char *s, unsigned *out) {
  *out = 0;
  while (*s) {
    size_t n = strcspn(s, ",");
    int hit = 0;
    for (int i = 0; i < BM_ROWS; i++)
      if (strlen(k_row_keys[i]) == n && !strncmp(s, k_row_keys[i], n)) *out |= 1u << i, hit = 1;
    if (!hit) return -1;
    s += n + (s[n] == ',');
  }
  return *out ? 0 : -1;
}

static int parse_int(const char *v, int lo, int hi, int *out) {
  return sw_cli_parse_int(v, lo, hi, out);
}

/* --eval N: 0 skips perplexity; otherwise at least one BM_WINDOW-token window. */
static int parse_eval(const char *v, int *out) {
  if (parse_int(v, 0, 1 << 16, out) != 0) return -1;
  if (*out == 0 || *out >= BM_WINDOW) return 0;
  fprintf(stderr, "sparsweep bench model: --eval %d is shorter than one %d-token perplexity window (0 skips it)\n",
          *out, BM_WINDOW);
  return -1;
}

static int bm_parse(int argc, char **argv, bm_opts_t *o) {
  const char *cache = getenv("SPARSWEEP_CACHE");
  static char model[2048], text[2048], lb[2048];
  snprintf(model, sizeof model, "%s/models/SmolLM2-135M-Instruct.Q4_1.gguf", cache && *cache ? cache : "cache");
  snprintf(text, sizeof text, "%s/text/austen.txt", cache && *cache ? cache : "cache");
  snprintf(lb, sizeof lb, "%s/llamacpp/bin/llama-bench", cache && *cache ? cache : "cache");
  *o = (bm_opts_t){model, text, lb, {1, 2}, 2, 5, 32, 32, 512, 512, (1u << BM_ROWS) - 1};
  for (int i = 1; i < argc; i++) {
    int bad = 0, e = 0;
    const char *v, *opt = argv[i];
    if ((v = sw_cli_opt_value(argc, argv, &i, "--model", &bad))) o->model = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--text", &bad))) o->text = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--llama-bench", &bad))) o->llama_bench = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--threads", &bad))) e = parse_threads(v, o);
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--reps", &bad))) e = parse_int(v, 1, BM_MAX_REPS, &o->reps);
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--prompt", &bad))) e = parse_int(v, 1, 512, &o->prompt);
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--decode", &bad))) e = parse_int(v, 1, 512, &o->decode);
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--calib", &bad))) e = parse_int(v, BM_WINDOW, 1 << 16, &o->calib);
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--eval", &bad))) e = parse_eval(v, &o->eval);
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--rows", &bad))) e = parse_rows(v, &o->rows);
    else bad = 1;
    if (bad || e) {
      fprintf(stderr, "sparsweep bench model: bad option or value: %s%s%s\n", opt, v ? " " : "", v ? v : "");
      return -1;
    }
  }
  return 0;
}

/* The first n_tok tokens of the text file (encoded from its first bytes). */
static sw_rc bm_tokens(const sw_gguf_t *g, const char *path, size_t n_tok, int32_t **ids, sw_err_t *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return sw_err_set(err, SW_ERR_IO, "%s: cannot open text", path);
  size_t cap = n_tok * 16 + 1024;
  char *buf = malloc(cap + 1);
  size_t len = buf ? fread(buf, 1, cap, f) : 0;
  fclose(f);
  if (!buf) return sw_err_set(err, SW_ERR_NOMEM, "out of memory");
  buf[len] = '\0';
  sw_tokenizer_t *tok = NULL;
  size_t n = 0;
  sw_rc rc = sw_tokenizer_from_gguf(g, &tok, err);
  if (!rc) rc = sw_tokenizer_encode(tok, buf, len, 0, ids, &n, err);
  sw_tokenizer_free(tok);
  free(buf);
  if (!rc && n < n_tok) rc = sw_err_set(err, SW_ERR_RANGE, "%s: only %zu tokens, need %zu", path, n, n_tok);
  return rc;
}

static sw_rc bm_method(bm_row_t *r, const sw_llama_t *m, const sw_calib_data_t *cd, int max_tok, sw_err_t *err) {
  sw_method_cfg_t mc;
  sw_method_cfg_defaults(&mc, &m->cfg);
  sw_rc rc = sw_method_parse(r->method, &mc.kind, err);
  if (rc) return rc;
  mc.level = 0.5;
  if ((rc = sw_method_init(&r->M, m, &mc, max_tok, err))) return rc;
  r->has_method = 1;
  rc = sw_calib_method(&r->M, cd, err);
  return rc ? rc : sw_method_native(&r->M, SW_ISA_AUTO, err);
}

/* One llama-bench run (-r 1): prompt and decode tokens/s parsed from its CSV output; 0 on failure. */
static int bm_llamacpp(const bm_opts_t *o, int threads, double *pre_tps, double *dec_tps) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "'%s' -m '%s' -t %d -p %d -n %d -r 1 -o csv 2>/dev/null", o->llama_bench, o->model,
           threads, o->prompt, o->decode);
  FILE *p = popen(cmd, "r");
  if (!p) return 0;
  char line[8192];
  int c_prompt = -1, c_gen = -1, c_ts = -1, got = 0;
  while (fgets(line, sizeof line, p)) {
    int col = 0;
    long n_prompt = -1, n_gen = -1;
    double ts = -1;
    for (char *s = line, *tokn; (tokn = strsep(&s, ",")); col++) {
      char *v = tokn + (*tokn == '"');
      if (c_ts < 0) {
        if (!strncmp(v, "n_prompt", 8)) c_prompt = col;
        if (!strncmp(v, "n_gen", 5)) c_gen = col;
        if (!strncmp(v, "avg_ts", 6)) c_ts = col;
        continue;
      }
      if (col == c_prompt) n_prompt = strtol(v, NULL, 10);
      if (col == c_gen) n_gen = strtol(v, NULL, 10);
      if (col == c_ts) ts = strtod(v, NULL);
    }
    if (ts > 0 && n_gen == 0 && n_prompt > 0) *pre_tps = ts, got |= 1;
    if (ts > 0 && n_prompt == 0 && n_gen > 0) *dec_tps = ts, got |= 2;
  }
  return pclose(p) == 0 && got == 3;
}

/* Median of the repetitions that succeeded (a failed llama-bench run is NaN); NaN when none did. */
static double bm_median_ok(const double *x, int n) {
  double ok[BM_MAX_REPS];
  int k = 0;
  for (int i = 0; i < n && k < BM_MAX_REPS; i++)
    if (isfinite(x[i])) ok[k++] = x[i];
  return sw_median(ok, (size_t)k);
}

/* "%.1f" of v, or "-" when it is not a number. */
static void bm_fmt(char *dst, size_t cap, const char *fmt, double v) {
  if (isfinite(v)) snprintf(dst, cap, fmt, v);
  else snprintf(dst, cap, "-");
}

static void bm_print(const bm_row_t *rows, int reps, int threads) {
  int have_llama = rows[BM_LLAMACPP].on, have_native = rows[BM_NATIVE].on;
  double dec[BM_ROWS], pre[BM_ROWS];
  for (int i = 0; i < BM_ROWS; i++) {
    dec[i] = bm_median_ok(rows[i].dec, reps);
    pre[i] = bm_median_ok(rows[i].pre, reps);
  }
  printf("\nthreads %d (median of %d interleaved repetitions)\n", threads, reps);
  printf("%-28s %12s %12s %12s %12s %10s\n", "configuration", "decode tok/s", "vs native", "vs llama.cpp",
         "prefill tok/s", "perplexity");
  for (int i = 0; i < BM_ROWS; i++) {
    if (!rows[i].on) continue;
    char vl[32] = "-", vn[32] = "-", ppl[32] = "-", d[32], pf[32];
    if (have_llama) bm_fmt(vl, sizeof vl, "%.2fx", dec[i] / dec[BM_LLAMACPP]);
    if (have_native) bm_fmt(vn, sizeof vn, "%.2fx", dec[i] / dec[BM_NATIVE]);
    if (rows[i].ppl > 0) snprintf(ppl, sizeof ppl, "%.2f", rows[i].ppl);
    bm_fmt(d, sizeof d, "%.1f", dec[i]);
    bm_fmt(pf, sizeof pf, "%.1f", pre[i]);
    printf("%-28s %12s %12s %12s %12s %10s\n", rows[i].name, d, vn, vl, pf, ppl);
  }
}

/* Times every configuration once per repetition, in turn, at one thread count. */
static sw_rc bm_run_threads(const bm_opts_t *o, const sw_llama_t *m, bm_row_t *rows, const int32_t *tok, int threads,
                            sw_err_t *err) {
  sw_llama_state_t st[2];
  memset(st, 0, sizeof st);
  openblas_set_num_threads(threads);
  sw_rc rc = sw_llama_state_init(&st[0], m, o->prompt, o->prompt + o->decode, err);
  if (!rc) rc = sw_llama_state_init(&st[1], m, o->prompt, o->prompt + o->decode, err);
  if (!rc) rc = sw_llama_state_native(&st[1], m, threads, SW_ISA_AUTO, err);
  for (int i = 0; !rc && i < BM_ROWS; i++)
    if (rows[i].has_method) sw_method_native_bind(&rows[i].M, &st[1]);
  double *dec = malloc((size_t)o->decode * sizeof *dec);
  if (!rc && !dec) rc = sw_err_set(err, SW_ERR_NOMEM, "out of memory (%d decode timings)", o->decode);
  for (int rep = -1; !rc && rep < o->reps; rep++) {
    for (int i = 0; !rc && i < BM_ROWS; i++) {
      bm_row_t *r = &rows[i];
      double p = 0, pt = 0, dt = 0;
      if (!r->on) continue;
      if (i == BM_LLAMACPP) {
        if (rep >= 0 && !bm_llamacpp(o, threads, &pt, &dt)) pt = dt = NAN; /* failed: no figure, not a stale one */
        if (rep >= 0) r->pre[rep] = pt, r->dec[rep] = dt;
        continue;
      }
      sw_llama_ffn_t hook = r->has_method ? sw_method_hook(&r->M) : (sw_llama_ffn_t){0};
      rc = sw_eval_time(m, &st[r->weights], r->has_method ? &hook : NULL, tok, o->prompt, o->decode, &p, dec, err);
      if (rc || rep < 0) continue;
      r->dec[rep] = 1.0 / sw_median(dec, (size_t)o->decode);
      r->pre[rep] = o->prompt / p;
    }
  }
  free(dec);
  for (int i = 0; i < BM_ROWS; i++)
    if (rows[i].has_method) sw_method_native_bind(&rows[i].M, NULL);
  sw_llama_state_free(&st[0]);
  sw_llama_state_free(&st[1]);
  if (!rc) bm_print(rows, o->reps, threads);
  return rc;
}

/* Perplexity of every sparsweep row on the eval tokens (native rows on a native state). */
static sw_rc bm_quality(const bm_opts_t *o, const sw_llama_t *m, bm_row_t *rows, const int32_t *tok, sw_err_t *err) {
  sw_llama_state_t st;
  sw_rc rc = sw_llama_state_init(&st, m, BM_WINDOW, BM_WINDOW, err);
  for (int i = 0; !rc && i < BM_LLAMACPP; i++) {
    if (!rows[i].on) continue;
    if (rows[i].weights == SW_LLAMA_WEIGHTS_NATIVE && st.weights != SW_LLAMA_WEIGHTS_NATIVE)
      rc = sw_llama_state_native(&st, m, 1, SW_ISA_AUTO, err);
    if (rows[i].has_method) sw_method_native_bind(&rows[i].M, &st);
    sw_llama_ffn_t hook = rows[i].has_method ? sw_method_hook(&rows[i].M) : (sw_llama_ffn_t){0};
    sw_eval_result_t res;
    if (!rc)
      rc = sw_eval_run(m, &st, rows[i].has_method ? &hook : NULL, tok, (size_t)o->eval, NULL, BM_WINDOW, NULL, NULL,
                       &res, err);
    if (!rc) rows[i].ppl = res.ppl;
    if (rows[i].has_method) sw_method_native_bind(&rows[i].M, NULL);
  }
  sw_llama_state_free(&st);
  return rc;
}

static sw_rc bm_main(const bm_opts_t *o, sw_err_t *err) {
  sw_gguf_t *g = NULL;
  sw_llama_t m;
  int32_t *tok = NULL;
  bm_row_t rows[BM_ROWS] = {
      [BM_F32] = {.name = "sparsweep dense f32", .weights = SW_LLAMA_WEIGHTS_F32},
      [BM_NATIVE] = {.name = "sparsweep dense native", .weights = SW_LLAMA_WEIGHTS_NATIVE},
      [BM_CATS] = {.name = "CATS 50% native", .weights = SW_LLAMA_WEIGHTS_NATIVE, .method = "cats"},
      [BM_CHESS] = {.name = "CHESS 50% native", .weights = SW_LLAMA_WEIGHTS_NATIVE, .method = "chess"},
      [BM_TEAL] = {.name = "TEAL 50% native", .weights = SW_LLAMA_WEIGHTS_NATIVE, .method = "teal"},
      [BM_LLAMACPP] = {.name = "llama.cpp llama-bench"},
  };
  sw_rc rc = sw_gguf_open(o->model, &g, err);
  if (!rc) rc = sw_llama_load_gguf(&m, g, err);
  if (rc) {
    if (g) sw_gguf_close(g);
    return rc;
  }
  size_t need = (size_t)o->calib + (size_t)o->eval + (size_t)o->prompt + (size_t)o->decode;
  rc = bm_tokens(g, o->text, need, &tok, err);
  sw_calib_data_t cd = {0};
  unsigned method_rows = (1u << BM_CATS) | (1u << BM_CHESS) | (1u << BM_TEAL);
  if (!rc && (o->rows & method_rows)) rc = sw_calib_collect(&cd, &m, m.cfg.act, 0.0f, tok, (size_t)o->calib, BM_WINDOW, err);
  int max_tok = o->prompt > BM_WINDOW ? o->prompt : BM_WINDOW;
  int have_llama = access(o->llama_bench, X_OK) == 0;
  for (int i = 0; i < BM_ROWS; i++) rows[i].on = (o->rows >> i & 1u) && (i != BM_LLAMACPP || have_llama);
  for (int i = 0; !rc && i < BM_LLAMACPP; i++)
    if (rows[i].method && rows[i].on) rc = bm_method(&rows[i], &m, &cd, max_tok, err);
  if (!rc && o->eval >= BM_WINDOW) rc = bm_quality(o, &m, rows, tok + o->calib, err);
  printf("model %s (%d native matrices, %d f32 fallback); ISA %s\n", o->model, m.q.n_native, m.q.n_fallback,
         sw_isa_name(sw_isa_best()));
  if (!have_llama) printf("llama.cpp not built: run scripts/build_llamacpp.sh (looked for %s)\n", o->llama_bench);
  const int32_t *timed = tok + o->calib + o->eval;
  for (int t = 0; !rc && t < o->n_threads; t++) rc = bm_run_threads(o, &m, rows, timed, o->threads[t], err);
  for (int i = 0; i < BM_ROWS; i++)
    if (rows[i].has_method) sw_method_free(&rows[i].M);
  sw_calib_data_free(&cd);
  free(tok);
  sw_llama_free(&m);
  sw_gguf_close(g);
  return rc;
}

int cmd_bench_model(int argc, char **argv) {
  if (sw_cli_wants_help(argc, argv)) return bm_usage(stdout, SW_EXIT_OK);
  bm_opts_t o;
  if (bm_parse(argc, argv, &o)) return bm_usage(stderr, SW_EXIT_USAGE);
  sw_err_t err = {0};
  if (bm_main(&o, &err)) {
    fprintf(stderr, "sparsweep bench model: %s\n", err.msg);
    return SW_EXIT_FAIL;
  }
  return SW_EXIT_OK;
}
