/* `sparsweep model`: inspect a GGUF file (metadata and tensors) or a Hugging Face checkpoint directory (config,
 * shards with their SHA-256, tensors, the model hash), print the default model path, or tokenize text with a
 * model's tokenizer (a directory's tokenizer.json).  Subcommands:
 *   sparsweep model inspect FILE|DIR [--all] metadata (arrays summarised; --all prints every element) + tensors
 *   sparsweep model path                     the default model path ($SPARSWEEP_CACHE or ./cache)
 *   sparsweep model tokenize [FILE] TEXT     token ids of TEXT, one line (FILE defaults to the default model) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sw_cli.h"
#include "models/sw_gguf.h"
#include "models/sw_hf.h"
#include "models/sw_llama.h"
#include "models/sw_safetensors.h"
#include "models/sw_tokenizer_hf.h"

static void usage(FILE *f) {
  fprintf(f, "usage: sparsweep model inspect FILE|DIR [--all]\n"
             "       sparsweep model path\n"
             "       sparsweep model tokenize [FILE|DIR] TEXT\n"
             "FILE is a GGUF file; DIR a Hugging Face checkpoint (config.json, *.safetensors, tokenizer.json)\n");
}

static void default_path(char *buf, size_t len) {
  const char *c = getenv("SPARSWEEP_CACHE");
  snprintf(buf, len, "%s/models/SmolLM2-135M-Instruct.Q4_1.gguf", c && *c ? c : "cache");
}

static void print_scalar(const sw_gguf_kv_t *kv) {
  switch (kv->type) {
    case SW_GGUF_STRING: printf("\"%.*s\"", kv->str_len > 200 ? 200 : (int)kv->str_len, kv->str); break;
    case SW_GGUF_F32:
    case SW_GGUF_F64: printf("%g", kv->num.f); break;
    case SW_GGUF_I8:
    case SW_GGUF_I16:
    case SW_GGUF_I32:
    case SW_GGUF_I64:
    case SW_GGUF_BOOL: printf("%lld", (long long)kv->num.i); break;
    default: printf("%llu", (unsigned long long)kv->num.u); break;
  }
}

static void print_array(const sw_gguf_t *g, const sw_gguf_kv_t *kv, int all) {
  size_t n = (size_t)kv->arr_count, show = all ? n : (n < 8 ? n : 8);
  printf("%s[%zu]", sw_gguf_vtype_name(kv->arr_type), n);
  if (kv->arr_type == SW_GGUF_STRING) {
    for (size_t i = 0; i < show; i++) printf(" \"%.*s\"", (int)kv->arr_str[i].len, kv->arr_str[i].ptr);
  } else if (kv->arr_type != SW_GGUF_ARRAY && kv->arr_type != SW_GGUF_F32 && kv->arr_type != SW_GGUF_F64) {
    int64_t *v = malloc((n ? n : 1) * sizeof *v);
    size_t cnt = 0;
    sw_err_t err = {0};
    if (v && sw_gguf_get_arr_int(g, kv->key, v, n, &cnt, &err) == SW_OK)
      for (size_t i = 0; i < show; i++) printf(" %lld", (long long)v[i]);
    free(v);
  }
  if (show < n) printf(" ...");
}

static void print_config(const sw_llama_config_t *cfg) {
  printf("llama config: %d layers, d_model %d, d_ff %d, heads %d/%d (kv), head_dim %d, vocab %d, rope theta %g, "
         "rms eps %g, %s output\n",
         cfg->n_layer, cfg->d_model, cfg->d_ff, cfg->n_head, cfg->n_head_kv, cfg->head_dim, cfg->vocab,
         cfg->rope_theta, cfg->rms_eps, cfg->tied_output ? "tied" : "separate");
}

/* A checkpoint directory: shards (with hashes), tensors, config, and the model hash trials record. */
static int inspect_hf(const char *dir) {
  sw_st_t *st = NULL;
  sw_json_t *config = NULL;
  sw_err_t err = {0};
  char config_sha[65], hash[65];
  if (sw_hf_read_json(dir, "config.json", (size_t)1 << 20, &config, config_sha, &err) ||
      sw_st_open_dir(dir, &st, &err)) {
    fprintf(stderr, "sparsweep model: %s\n", err.msg);
    sw_json_free(config);
    return SW_EXIT_USAGE;
  }
  sw_st_hash_shards(st);
  printf("checkpoint %s\n%s  config.json\n", dir, config_sha);
  for (size_t i = 0; i < st->n_shards; i++) printf("%s  %s (%zu bytes)\n", st->shards[i].sha256, st->shards[i].path,
                                                   st->shards[i].len);
  printf("\ntensors:\n");
  for (size_t i = 0; i < st->n_tensors; i++) {
    const sw_st_tensor_t *t = &st->tensors[i];
    printf("  %-52s %-5s [", t->name, sw_st_dtype_name(t->dtype));
    for (int d = 0; d < t->n_dims; d++) printf("%s%lld", d ? ", " : "", (long long)t->shape[d]);
    printf("] %zu bytes, shard %zu\n", t->nbytes, t->shard + 1);
  }
  sw_hf_manifest_sha256(config_sha, st, hash);
  printf("\nmodel sha256 (the trials' model_sha256) %s\n", hash);
  sw_llama_config_t cfg;
  char what[4200];
  snprintf(what, sizeof what, "%s/config.json", dir);
  if (sw_hf_config_read(&cfg, config, what, &err) == SW_OK) print_config(&cfg);
  else printf("not loadable as a llama model: %s\n", err.msg);
  sw_json_free(config);
  sw_st_close(st);
  return SW_EXIT_OK;
}

static int inspect(const char *path, int all) {
  if (sw_hf_is_dir(path)) return inspect_hf(path);
  sw_gguf_t *g = NULL;
  sw_err_t err = {0};
  char why[1024];
  if (sw_cli_check_input(path, 0, why, sizeof why) != 0) {
    fprintf(stderr, "sparsweep model: %s\n", why);
    return SW_EXIT_USAGE;
  }
  if (sw_gguf_open(path, &g, &err) != SW_OK) {
    fprintf(stderr, "sparsweep model: %s\n", err.msg);
    return SW_EXIT_USAGE;
  }
  printf("file %s\nversion %u, %zu metadata keys, %zu tensors, alignment %zu, data at byte %zu\n\nmetadata:\n", path,
         g->version, g->n_kv, g->n_tensors, g->alignment, g->data_offset);
  for (size_t i = 0; i < g->n_kv; i++) {
    const sw_gguf_kv_t *kv = &g->kv[i];
    printf("  %-44s %-7s ", kv->key, sw_gguf_vtype_name(kv->type));
    if (kv->type == SW_GGUF_ARRAY)
      print_array(g, kv, all);
    else
      print_scalar(kv);
    printf("\n");
  }
  printf("\ntensors:\n");
  size_t total = 0;
  for (size_t i = 0; i < g->n_tensors; i++) {
    const sw_gguf_tensor_t *t = &g->tensors[i];
    printf("  %-32s %-6s [", t->name, sw_type_name(t->type));
    for (uint32_t d = 0; d < t->n_dims; d++) printf("%s%lld", d ? ", " : "", (long long)t->ne[d]);
    printf("] %zu bytes at %llu\n", t->nbytes, (unsigned long long)t->offset);
    total += t->nbytes;
  }
  printf("\ntensor data: %zu bytes\n", total);
  sw_llama_config_t cfg;
  if (sw_llama_config_read(&cfg, g, &err) == SW_OK)
    print_config(&cfg);
  else
    printf("not loadable as a llama model: %s\n", err.msg);
  sw_gguf_close(g);
  return SW_EXIT_OK;
}

static int tokenize(const char *path, const char *text) {
  char why[1024];
  if (!sw_hf_is_dir(path) && sw_cli_check_input(path, 0, why, sizeof why) != 0) {
    fprintf(stderr, "sparsweep model: %s\n", why);
    return SW_EXIT_USAGE;
  }
  sw_tokenizer_t *tok = NULL;
  sw_err_t err = {0};
  int32_t *ids = NULL;
  size_t n = 0;
  if (sw_tokenizer_open(path, &tok, &err) || sw_tokenizer_encode(tok, text, strlen(text), 0, &ids, &n, &err)) {
    fprintf(stderr, "sparsweep model: %s\n", err.msg);
    sw_tokenizer_free(tok);
    return SW_EXIT_USAGE;
  }
  for (size_t i = 0; i < n; i++) printf("%s%d", i ? " " : "", ids[i]);
  printf("\n");
  free(ids);
  sw_tokenizer_free(tok);
  return SW_EXIT_OK;
}

int cmd_model(int argc, char **argv) {
  if (sw_cli_wants_help(argc, argv)) {
    usage(stdout);
    return SW_EXIT_OK;
  }
  char def[2048];
  default_path(def, sizeof def);
  if (argc == 2 && strcmp(argv[1], "path") == 0) {
    char abs[4096];
    printf("%s\n", realpath(def, abs) ? abs : def); /* absolute once the file exists */
    return SW_EXIT_OK;
  }
  if ((argc == 3 || argc == 4) && strcmp(argv[1], "inspect") == 0) {
    int all = argc == 4 && strcmp(argv[3], "--all") == 0;
    if (argc == 4 && !all) {
      usage(stderr);
      return SW_EXIT_USAGE;
    }
    return inspect(argv[2], all);
  }
  if ((argc == 3 || argc == 4) && strcmp(argv[1], "tokenize") == 0)
    return tokenize(argc == 4 ? argv[2] : def, argv[argc - 1]);
  usage(stderr);
  return SW_EXIT_USAGE;
}
