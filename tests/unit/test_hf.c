/* Hugging Face checkpoints (models/sw_safetensors, models/sw_hf, models/sw_tokenizer_hf):
 *  1. a table of safetensors files written to a temporary directory, each a valid file with one corruption
 *     (truncated header, header length past the file, out-of-range/overlapping data_offsets, dtype/shape
 *     mismatch, duplicate name, ...): each must fail with a message naming the file and the field;
 *  2. directory-level errors (missing tensor, a name in two shards, an index naming the wrong shard, refused
 *     config.json settings) and a tiny hand-made checkpoint whose q/k rows must come out in GGUF's RoPE pair
 *     order (hand-computed permutation) and whose F16/BF16 values widen exactly;
 *  3. with the directories tests/reference/gguf_to_hf.py makes from the SmolLM2 GGUF (SW_HF_REF_DIR), the
 *     f32 directory gives the GGUF's weights and logits bit for bit, the f16/bf16 directories (sharded, with
 *     and without an index) give exactly the values NumPy rounded, and tokenizer.json gives the GGUF
 *     vocabulary's ids on the Austen text and the HF `tokenizers` package's ids.  Skipped (never passed) when
 *     the fixture or the model is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/sw_hf.h"
#include "models/sw_llama.h"
#include "models/sw_safetensors.h"
#include "models/sw_tokenizer_hf.h"
#include "tests/unit/sw_test_util.h"
#include "workers/sw_trial.h"

/* ---- writing test files ---- */

static char g_tmp[256];

static void make_tmp(void) {
  snprintf(g_tmp, sizeof g_tmp, "/tmp/sw_test_hf_XXXXXX");
  assert_non_null(mkdtemp(g_tmp));
}

static void remove_dir(const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

static void write_bytes(const char *dir, const char *name, const void *buf, size_t len) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(buf, 1, len, f), len);
  fclose(f);
}

/* A safetensors image in memory: u64 header length (len_field, or the real length when UINT64_MAX), header,
 * data_len bytes of data (data, or byte i = i when NULL).  *total gets its size; caller frees. */
static uint8_t *st_image(const char *header, const void *data, size_t data_len, uint64_t len_field, size_t *total) {
  size_t hl = strlen(header);
  uint8_t *buf = malloc(8 + hl + data_len);
  assert_non_null(buf);
  uint64_t n = len_field == UINT64_MAX ? hl : len_field;
  for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(n >> (8 * i));
  memcpy(buf + 8, header, hl);
  for (size_t i = 0; i < data_len; i++) buf[8 + hl + i] = data ? ((const uint8_t *)data)[i] : (uint8_t)i;
  *total = 8 + hl + data_len;
  return buf;
}

static void write_st(const char *dir, const char *name, const char *header, const void *data, size_t data_len,
                     uint64_t len_field) {
  size_t total = 0;
  uint8_t *buf = st_image(header, data, data_len, len_field, &total);
  write_bytes(dir, name, buf, total);
  free(buf);
}

/* ---- 1. the corrupt-file table ---- */

typedef struct st_case {
  const char *name;
  const char *header;
  size_t      data_len;
  uint64_t    len_field; /* UINT64_MAX: the true header length */
  size_t      truncate;  /* > 0: keep only this many bytes of the file */
  const char *want;      /* NULL: must open; else a substring of the message */
} st_case_t;

#define T1 "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}"
static const st_case_t st_cases[] = {
    {"valid", T1, 16, UINT64_MAX, 0, NULL},
    {"valid with metadata", "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"BF16\",\"shape\":[3],"
     "\"data_offsets\":[0,6]},\"a\":{\"dtype\":\"F16\",\"shape\":[1,2],\"data_offsets\":[6,10]}}", 10, UINT64_MAX, 0, NULL},
    {"valid empty tensor", "{\"z\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[0,0]}}", 0, UINT64_MAX, 0, NULL},
    {"truncated header length", T1, 16, UINT64_MAX, 5, "too short for the 8-byte header length"},
    {"truncated header", T1, 16, UINT64_MAX, 30, "header length 57 exceeds the 22 bytes after it"},
    {"header length past file", T1, 16, 4096, 0, "header length 4096 exceeds the 73 bytes"},
    {"header length over cap", T1, 16, (uint64_t)1 << 40, 0, "exceeds the cap"},
    {"header not JSON", "{\"a\":{\"dtype\":\"F32\",", 0, UINT64_MAX, 0, "header JSON"},
    {"header not an object", "[1,2]", 0, UINT64_MAX, 0, "header is not a JSON object"},
    {"data past end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[4,20]}}", 16, UINT64_MAX, 0,
     "'a': data_offsets [4, 20] outside the 16 bytes"},
    {"data truncated", T1, 16, UINT64_MAX, 8 + 57 + 12, "'a': data_offsets [0, 16] outside the 12 bytes"},
    {"begin after end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 16, UINT64_MAX, 0,
     "'a': data_offsets [8, 4] outside"},
    {"overlapping", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\","
     "\"shape\":[2],\"data_offsets\":[4,12]}}", 12, UINT64_MAX, 0, "tensors 'a' and 'b' overlap"},
    {"dtype/shape mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, UINT64_MAX, 0,
     "'a': 8 bytes in data_offsets but shape × F32 needs 3 elements"},
    {"shape/dtype mismatch", "{\"a\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, UINT64_MAX, 0,
     "needs 4 elements of 2 bytes"},
    {"unknown dtype", "{\"a\":{\"dtype\":\"F12\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, UINT64_MAX, 0,
     "dtype 'F12' is not a safetensors dtype"},
    {"missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, UINT64_MAX, 0, "'a': \"dtype\" missing"},
    {"missing shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, UINT64_MAX, 0, "'a': \"shape\" missing"},
    {"missing offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, UINT64_MAX, 0, "\"data_offsets\" is not"},
    {"negative dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, UINT64_MAX, 0,
     "'a': shape[0] is not a non-negative integer"},
    {"shape overflow", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
     UINT64_MAX, 0, "element count overflows at shape[1]"},
    {"bytes overflow", "{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}", 8,
     UINT64_MAX, 0, "needs 4611686018427387904 elements"},
    {"too many dims", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
     UINT64_MAX, 0, "9 dimensions"},
    {"duplicate name", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"a\":{\"dtype\":\"U8\","
     "\"shape\":[1],\"data_offsets\":[1,2]}}", 2, UINT64_MAX, 0, "duplicate key"},
    {"unknown field", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":1}}", 1, UINT64_MAX, 0,
     "'a': unknown field 'x'"},
    {"metadata not object", "{\"__metadata__\":[]}", 0, UINT64_MAX, 0, "__metadata__ is not an object"},
    {"empty name", "{\"\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, UINT64_MAX, 0, "empty name"},
};

static void run_st_case(const st_case_t *c) {
  make_tmp();
  write_st(g_tmp, "model.safetensors", c->header, NULL, c->data_len, c->len_field);
  char path[512];
  snprintf(path, sizeof path, "%s/model.safetensors", g_tmp);
  if (c->truncate) assert_int_equal(truncate(path, (off_t)c->truncate), 0);
  sw_st_t *st = NULL;
  sw_err_t err = {0};
  sw_rc rc = sw_st_open_dir(g_tmp, &st, &err);
  if (!c->want) {
    if (rc) fail_msg("case '%s': %s", c->name, err.msg);
    sw_st_close(st);
  } else {
    if (rc == SW_OK) fail_msg("case '%s' was accepted", c->name);
    assert_null(st);
    if (!strstr(err.msg, path) || !strstr(err.msg, c->want))
      fail_msg("case '%s': message \"%s\" lacks the file or \"%s\"", c->name, err.msg, c->want);
  }
  remove_dir(g_tmp);
}

static void test_corrupt_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof st_cases / sizeof *st_cases; i++) run_st_case(&st_cases[i]);
}

/* F16/BF16/F32 bit patterns with hand-computed values; an I64 tensor is named as unsupported. */
static void test_dtype_conversion(void **state) {
  (void)state;
  /* f16 3C00 = 1, C000 = -2, 0001 = 2^-24; bf16 3F80 = 1, 4049 = 3.140625; f32 40490FDB = 3.14159274 */
  static const uint8_t data[] = {0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0x80, 0x3F, 0x49, 0x40,
                                 0xDB, 0x0F, 0x49, 0x40, 1, 0, 0, 0, 0, 0, 0, 0};
  const char *h = "{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},\"b\":{\"dtype\":\"BF16\","
                  "\"shape\":[2],\"data_offsets\":[6,10]},\"f\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[10,14]},"
                  "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[14,22]}}";
  size_t total = 0;
  uint8_t *img = st_image(h, data, sizeof data, UINT64_MAX, &total);
  sw_st_t *st = NULL;
  sw_err_t err = {0};
  assert_int_equal(sw_st_parse(img, total, &st, &err), SW_OK);
  float out[3];
  assert_int_equal(sw_st_to_f32(st, sw_st_find(st, "h"), out, &err), SW_OK);
  assert_true(out[0] == 1.0f && out[1] == -2.0f && out[2] == 0x1p-24f);
  assert_int_equal(sw_st_to_f32(st, sw_st_find(st, "b"), out, &err), SW_OK);
  assert_true(out[0] == 1.0f && out[1] == 3.140625f);
  assert_int_equal(sw_st_to_f32(st, sw_st_find(st, "f"), out, &err), SW_OK);
  assert_true(out[0] == 3.14159274101257324f);
  assert_int_equal(sw_st_find(st, "f")->n_dims, 0);
  assert_int_equal(sw_st_to_f32(st, sw_st_find(st, "i"), out, &err), SW_ERR_UNSUPPORTED);
  assert_non_null(strstr(err.msg, "'i': dtype I64 is not supported"));
  assert_null(sw_st_find(st, "missing"));
  sw_st_close(st);
  free(img);
}

/* ---- 2. tiny hand-made checkpoints ---- */

/* d_model 8, 2 heads of 4 (1 KV head), d_ff 4, vocab 6, 1 layer, tied: 11 tensors, all F32.  Tensor values:
 * element e of tensor k = 100*k + e, so every row can be recognised after loading. */
static const struct {
  const char *name;
  int         rows, cols; /* cols 0: a vector of rows */
} tiny_tensors[] = {
    {"model.embed_tokens.weight", 6, 8},
    {"model.norm.weight", 8, 0},
    {"model.layers.0.input_layernorm.weight", 8, 0},
    {"model.layers.0.self_attn.q_proj.weight", 8, 8},
    {"model.layers.0.self_attn.k_proj.weight", 4, 8},
    {"model.layers.0.self_attn.v_proj.weight", 4, 8},
    {"model.layers.0.self_attn.o_proj.weight", 8, 8},
    {"model.layers.0.post_attention_layernorm.weight", 8, 0},
    {"model.layers.0.mlp.gate_proj.weight", 4, 8},
    {"model.layers.0.mlp.up_proj.weight", 4, 8},
    {"model.layers.0.mlp.down_proj.weight", 8, 4},
};
#define TINY_N (sizeof tiny_tensors / sizeof *tiny_tensors)
static const char tiny_config[] =
    "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"hidden_size\":8,\"intermediate_size\":4,"
    "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"num_key_value_heads\":1,\"rms_norm_eps\":1e-05,"
    "\"rope_theta\":10000.0,\"vocab_size\":6,\"tie_word_embeddings\":true,\"hidden_act\":\"silu\","
    "\"max_position_embeddings\":64}";

/* Writes tensors [first, last) of the tiny model into dir/name (skipping `omit`, renaming to `rename` the
 * tensor `omit` when rename is non-NULL). */
static void write_tiny_shard(const char *dir, const char *name, size_t first, size_t last, size_t omit) {
  char header[4096] = "{";
  size_t off = 0, total = 0;
  for (size_t k = first; k < last; k++) total += (size_t)tiny_tensors[k].rows * (tiny_tensors[k].cols ? tiny_tensors[k].cols : 1);
  float *data = calloc(total ? total : 1, sizeof *data);
  assert_non_null(data);
  for (size_t k = first; k < last; k++) {
    if (k == omit) continue;
    size_t n = (size_t)tiny_tensors[k].rows * (tiny_tensors[k].cols ? tiny_tensors[k].cols : 1);
    for (size_t e = 0; e < n; e++) data[off / 4 + e] = (float)(100 * k + e);
    char shape[32], item[300];
    if (tiny_tensors[k].cols) snprintf(shape, sizeof shape, "[%d,%d]", tiny_tensors[k].rows, tiny_tensors[k].cols);
    else snprintf(shape, sizeof shape, "[%d]", tiny_tensors[k].rows);
    snprintf(item, sizeof item, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[%zu,%zu]}",
             strlen(header) > 1 ? "," : "", tiny_tensors[k].name, shape, off, off + n * 4);
    strcat(header, item);
    off += n * 4;
  }
  strcat(header, "}");
  write_st(dir, name, header, data, off, UINT64_MAX);
  free(data);
}

static void write_tiny(const char *dir, const char *config, size_t omit) {
  write_bytes(dir, "config.json", config, strlen(config));
  write_tiny_shard(dir, "model.safetensors", 0, TINY_N, omit);
}

static void test_tiny_permutation(void **state) {
  (void)state;
  make_tmp();
  write_tiny(g_tmp, tiny_config, TINY_N);
  sw_llama_t m;
  sw_err_t err = {0};
  if (sw_llama_load(&m, g_tmp, &err)) fail_msg("%s", err.msg);
  assert_int_equal(m.cfg.head_dim, 4);
  assert_int_equal(m.cfg.tied_output, 1);
  assert_ptr_equal(m.w.output, m.w.token_embd);
  /* q (tensor 3): GGUF row 2i+j of a head = HF row j*2+i: per head rows 0,2,1,3 (hand-computed) */
  static const int q_rows[8] = {0, 2, 1, 3, 4, 6, 5, 7};
  for (int r = 0; r < 8; r++)
    for (int c = 0; c < 8; c++) assert_true(m.w.wq[r * 8 + c] == (float)(300 + q_rows[r] * 8 + c));
  for (int r = 0; r < 4; r++) /* k (tensor 4): one KV head */
    for (int c = 0; c < 8; c++) assert_true(m.w.wk[r * 8 + c] == (float)(400 + q_rows[r] * 8 + c));
  for (int i = 0; i < 32; i++) assert_true(m.w.wv[i] == (float)(500 + i)); /* v unpermuted */
  for (int n = 0; n < 4; n++) /* down (tensor 10, HF [8, 4]) -> neuron-major: neuron n's row = column n */
    for (int j = 0; j < 8; j++) assert_true(m.w.w_down_t[n * 8 + j] == (float)(1000 + j * 4 + n));
  assert_int_equal(strlen(m.sha256), 64);
  sw_llama_free(&m);
  remove_dir(g_tmp);
}

typedef struct dir_case {
  const char *name;
  const char *config_edit_from, *config_edit_to; /* replace in tiny_config (NULL: none) */
  size_t      omit;                              /* tensor left out (TINY_N: none) */
  const char *want;
} dir_case_t;

static const dir_case_t dir_cases[] = {
    {"missing tensor", NULL, NULL, 8, "tensor 'model.layers.0.mlp.gate_proj.weight' is missing"},
    {"untied without lm_head", "\"tie_word_embeddings\":true", "\"tie_word_embeddings\":false", TINY_N,
     "tensor 'lm_head.weight' is missing"},
    {"architecture", "\"model_type\":\"llama\"", "\"model_type\":\"gpt2\"", TINY_N, "architecture 'gpt2' is not supported"},
    {"activation", "\"hidden_act\":\"silu\"", "\"hidden_act\":\"gelu\"", TINY_N, "hidden_act 'gelu' is not supported"},
    {"rope scaling", "\"rope_theta\"", "\"rope_scaling\":{\"rope_type\":\"dynamic\",\"factor\":2.0},\"rope_theta\"", TINY_N,
     "rope_scaling: rope_type 'dynamic' is not supported"},
    {"bias", "\"rope_theta\"", "\"attention_bias\":true,\"rope_theta\"", TINY_N, "'attention_bias' = true"},
    {"missing key", "\"hidden_size\":8,", "", TINY_N, "required key 'hidden_size' is missing"},
    {"heads do not divide", "\"num_attention_heads\":2", "\"num_attention_heads\":3", TINY_N, "do not divide"},
    {"vocab mismatch", "\"vocab_size\":6", "\"vocab_size\":7", TINY_N, "has 6 rows but config.json vocab_size is 7"},
    {"shape mismatch", "\"intermediate_size\":4", "\"intermediate_size\":8", TINY_N,
     "'model.layers.0.mlp.gate_proj.weight' has 2 dims [4, 8, ...], expected [8, 8]"},
    {"eps not a number", "\"rms_norm_eps\":1e-05", "\"rms_norm_eps\":\"small\"", TINY_N, "'rms_norm_eps' must be a number"},
    {"config not JSON", "}", ",", TINY_N, "config.json: offset"},
};

static void run_dir_case(const dir_case_t *c) {
  make_tmp();
  char config[2048];
  snprintf(config, sizeof config, "%s", tiny_config);
  if (c->config_edit_from) {
    char *at = strstr(config, c->config_edit_from);
    assert_non_null(at);
    char rest[2048];
    snprintf(rest, sizeof rest, "%s", at + strlen(c->config_edit_from));
    snprintf(at, sizeof config - (size_t)(at - config), "%s%s", c->config_edit_to, rest);
  }
  write_tiny(g_tmp, config, c->omit);
  sw_llama_t m;
  sw_err_t err = {0};
  if (sw_llama_load(&m, g_tmp, &err) == SW_OK) fail_msg("case '%s' was accepted", c->name);
  if (!strstr(err.msg, g_tmp) || !strstr(err.msg, c->want))
    fail_msg("case '%s': message \"%s\" lacks the directory or \"%s\"", c->name, err.msg, c->want);
  remove_dir(g_tmp);
}

static void test_dir_errors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof dir_cases / sizeof *dir_cases; i++) run_dir_case(&dir_cases[i]);
}

/* The model hash of a checkpoint directory equals coreutils' `sha256sum config.json *.safetensors | sha256sum`. */
static void expect_provenance_is_sha256sum(const char *dir) {
  write_bytes(dir, "config.json", tiny_config, strlen(tiny_config));
  sw_llama_t m;
  sw_err_t err = {0};
  if (sw_llama_load(&m, dir, &err)) fail_msg("%s", err.msg);
  char cmd[600], want[65] = "";
  snprintf(cmd, sizeof cmd, "cd '%s' && LC_ALL=C sha256sum config.json *.safetensors | sha256sum", dir);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  if (!fgets(want, sizeof want, p) || strlen(want) != 64) {
    pclose(p);
    sw_llama_free(&m);
    printf("  SKIP: sha256sum not available\n");
    skip();
  }
  pclose(p);
  assert_string_equal(m.sha256, want);
  sw_llama_free(&m);
}

/* Shards: a name in two files; an index naming the wrong shard or a missing one; no shard at all. */
static void test_shard_errors(void **state) {
  (void)state;
  sw_st_t *st = NULL;
  sw_err_t err = {0};
  make_tmp();
  assert_int_equal(sw_st_open_dir(g_tmp, &st, &err), SW_ERR_NOTFOUND);
  assert_non_null(strstr(err.msg, "no *.safetensors file"));
  write_tiny_shard(g_tmp, "model-00001-of-00002.safetensors", 0, 6, TINY_N);
  write_tiny_shard(g_tmp, "model-00002-of-00002.safetensors", 5, TINY_N, TINY_N); /* tensor 5 twice */
  assert_int_equal(sw_st_open_dir(g_tmp, &st, &err), SW_ERR_PARSE);
  if (!strstr(err.msg, "duplicate tensor name 'model.layers.0.self_attn.v_proj.weight'") ||
      !strstr(err.msg, "model-00001-of-00002.safetensors") || !strstr(err.msg, "model-00002-of-00002.safetensors"))
    fail_msg("%s", err.msg);
  write_tiny_shard(g_tmp, "model-00002-of-00002.safetensors", 6, TINY_N, TINY_N);
  assert_int_equal(sw_st_open_dir(g_tmp, &st, &err), SW_OK); /* no index: every *.safetensors */
  assert_int_equal(st->n_shards, 2);
  assert_int_equal(st->n_tensors, TINY_N);
  sw_st_close(st);
  expect_provenance_is_sha256sum(g_tmp);
  const char *wrong = "{\"weight_map\":{\"model.norm.weight\":\"model-00002-of-00002.safetensors\","
                      "\"model.layers.0.mlp.up_proj.weight\":\"model-00002-of-00002.safetensors\"}}";
  write_bytes(g_tmp, "model.safetensors.index.json", wrong, strlen(wrong));
  assert_int_equal(sw_st_open_dir(g_tmp, &st, &err), SW_ERR_NOTFOUND); /* only shard 2 opened: norm is in 1 */
  assert_non_null(strstr(err.msg, "index.json: tensor 'model.norm.weight' is not in model-00002-of-00002"));
  const char *escape = "{\"weight_map\":{\"model.norm.weight\":\"../model.safetensors\"}}";
  write_bytes(g_tmp, "model.safetensors.index.json", escape, strlen(escape));
  assert_int_equal(sw_st_open_dir(g_tmp, &st, &err), SW_ERR_PARSE);
  assert_non_null(strstr(err.msg, "is not a file name in the directory"));
  const char *absent = "{\"weight_map\":{\"model.norm.weight\":\"model-00003-of-00003.safetensors\"}}";
  write_bytes(g_tmp, "model.safetensors.index.json", absent, strlen(absent));
  assert_int_equal(sw_st_open_dir(g_tmp, &st, &err), SW_ERR_IO);
  assert_non_null(strstr(err.msg, "model-00003-of-00003.safetensors: cannot open"));
  remove_dir(g_tmp);
}

/* tokenizer.json: a tiny byte-level vocabulary encodes as hand-computed; refused features name the key. */
static void test_tokenizer_json(void **state) {
  (void)state;
  /* 256 byte tokens are needed for the byte map; build them as "\u0100"-style GPT-2 code points */
  char *json = malloc(65536);
  assert_non_null(json);
  size_t n = (size_t)snprintf(json, 65536, "{\"model\":{\"type\":\"BPE\",\"vocab\":{");
  /* GPT-2 byte map: printable ASCII '!'..'~' map to themselves; others to U+0100.. (tested through 'a','b') */
  static const char *const toks[] = {"a", "b", "ab", "c", "abc"};
  for (size_t i = 0; i < 5; i++) n += (size_t)snprintf(json + n, 65536 - n, "%s\"%s\":%zu", i ? "," : "", toks[i], i);
  n += (size_t)snprintf(json + n, 65536 - n, ",\"<s>\":5},\"merges\":[\"a b\",[\"ab\",\"c\"]]},\"added_tokens\":"
                        "[{\"id\":5,\"content\":\"<s>\",\"special\":true}],\"normalizer\":null,"
                        "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}}");
  sw_json_t *j = NULL;
  sw_err_t err = {0};
  assert_int_equal(sw_json_parse(json, n, &j, &err), SW_OK);
  sw_tokenizer_t *tok = NULL;
  if (sw_tokenizer_from_hf_json(j, "t.json", &tok, &err)) fail_msg("%s", err.msg);
  int32_t *ids = NULL;
  size_t n_ids = 0;
  assert_int_equal(sw_tokenizer_encode(tok, "abcab<s>", 8, 1, &ids, &n_ids, &err), SW_OK);
  assert_int_equal(n_ids, 3); /* "abcab" is one pre-token: abc + ab; then <s> */
  assert_int_equal(ids[0], 4);
  assert_int_equal(ids[1], 2);
  assert_int_equal(ids[2], 5);
  free(ids);
  sw_tokenizer_free(tok);
  sw_json_free(j);
  static const struct {
    const char *from, *to, *want;
  } refusals[] = {
      {"\"normalizer\":null", "\"normalizer\":{\"type\":\"NFC\"}", "t.json: normalizer 'NFC' is not supported"},
      {"\"type\":\"BPE\"", "\"type\":\"Unigram\"", "t.json: model.type 'Unigram' is not supported"},
      {"\"type\":\"BPE\"", "\"type\":\"BPE\",\"byte_fallback\":true", "model.byte_fallback = true"},
      {"\"add_prefix_space\":false", "\"add_prefix_space\":true", "add_prefix_space = true"},
      {"\"type\":\"ByteLevel\"", "\"type\":\"Metaspace\"", "pre_tokenizer 'Metaspace' is not supported"},
      {"\"a b\"", "\"a q\"", "t.json: tokenizer: merge 0 ('a q') names a token missing"},
      {"\"<s>\":5", "\"<s>\":7", "t.json: token id 7 but only 7 tokens"},
      {"\"<s>\":5}", "\"<s>\":5,\"zz\":7}", "t.json: token id 6 is missing"},
      /* one large id in a tiny file: refused before allocating ~1e9 entries (took 4.2 GB before) */
      {"\"<s>\":5", "\"<s>\":1073741822", "token id 1073741822 but only 7 tokens"},
      /* a NUL inside a merge or an added token: the copy used to stop at it and the merge was read past it */
      {"\"a b\"", "\"a\\u0000xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx b\"", "model.merges[0] contains \\u0000"},
      {"[\"ab\",\"c\"]", "[\"ab\",\"c\\u0000\"]", "model.merges[1] contains \\u0000"},
      {"\"content\":\"<s>\"", "\"content\":\"<\\u0000s>\"", "added_tokens[0] contains \\u0000"},
      {"\"id\":5", "\"id\":-1", "has id -1 outside"},
  };
  for (size_t i = 0; i < sizeof refusals / sizeof *refusals; i++) {
    char edited[65536];
    char *at = strstr(json, refusals[i].from);
    assert_non_null(at);
    snprintf(edited, sizeof edited, "%.*s%s%s", (int)(at - json), json, refusals[i].to, at + strlen(refusals[i].from));
    assert_int_equal(sw_json_parse(edited, strlen(edited), &j, &err), SW_OK);
    tok = NULL;
    if (sw_tokenizer_from_hf_json(j, "t.json", &tok, &err) == SW_OK) fail_msg("refusal %zu accepted", i);
    if (!strstr(err.msg, refusals[i].want)) fail_msg("refusal %zu: \"%s\" lacks \"%s\"", i, err.msg, refusals[i].want);
    sw_json_free(j);
  }
  /* a vocab key with \u0000 would be looked up as its prefix ("a"): the JSON parser refuses such keys */
  char *at = strstr(json, "\"ab\":");
  assert_non_null(at);
  char edited[65536];
  snprintf(edited, sizeof edited, "%.*s\"a\\u0000b\"%s", (int)(at - json), json, at + 4);
  assert_int_equal(sw_json_parse(edited, strlen(edited), &j, &err), SW_ERR_PARSE);
  assert_non_null(strstr(err.msg, "object key contains \\u0000"));
  free(json);
}

/* ---- 3. the SmolLM2 checkpoint converted by tests/reference/gguf_to_hf.py ---- */

static const char *hf_ref_dir(void) {
  const char *d = getenv("SW_HF_REF_DIR");
  char probe[4096];
  snprintf(probe, sizeof probe, "%s/f32/config.json", d ? d : "");
  return d && access(probe, R_OK) == 0 ? d : NULL;
}

static const char *gguf_path(void) {
  const char *p = getenv("SW_MODEL_PATH");
  return p && access(p, R_OK) == 0 ? p : NULL;
}

#define N_TOK 48

/* Dense logits of N_TOK fixed token ids (every position). Caller frees. */
static float *run_logits(const sw_llama_t *m) {
  sw_llama_state_t s;
  sw_err_t err = {0};
  assert_int_equal(sw_llama_state_init(&s, m, N_TOK, N_TOK, &err), SW_OK);
  int32_t toks[N_TOK];
  for (int i = 0; i < N_TOK; i++) toks[i] = (int32_t)((i * 7919 + 17) % m->cfg.vocab);
  if (sw_llama_forward(m, &s, NULL, toks, N_TOK, 2, &err)) fail_msg("%s", err.msg);
  size_t n = (size_t)N_TOK * (size_t)m->cfg.vocab;
  float *out = malloc(n * sizeof *out);
  assert_non_null(out);
  memcpy(out, s.logits, n * sizeof *out);
  sw_llama_state_free(&s);
  return out;
}

/* Loads a and b, requires identical configs, weight blocks and logits (max |diff| printed). */
static void expect_same_model(const char *a, const char *b) {
  sw_llama_t ma, mb;
  sw_err_t err = {0};
  if (sw_llama_load(&ma, a, &err)) fail_msg("%s", err.msg);
  if (sw_llama_load(&mb, b, &err)) fail_msg("%s", err.msg);
  assert_memory_equal(&ma.cfg, &mb.cfg, sizeof ma.cfg);
  assert_int_equal(ma.w.block_bytes, mb.w.block_bytes);
  size_t n_w = ma.w.block_bytes / sizeof(float), differ = 0;
  for (size_t i = 0; i < n_w; i++) differ += memcmp(&((float *)ma.w.block)[i], &((float *)mb.w.block)[i], 4) != 0;
  float *la = run_logits(&ma), *lb = run_logits(&mb);
  double max_diff = 0;
  for (size_t i = 0; i < (size_t)N_TOK * (size_t)ma.cfg.vocab; i++)
    if (fabs((double)la[i] - lb[i]) > max_diff) max_diff = fabs((double)la[i] - lb[i]);
  printf("  %s vs %s: %zu of %zu weights differ, max |logit diff| %.3g\n", a, b, differ, n_w, max_diff);
  assert_int_equal(differ, 0);
  assert_true(max_diff <= 1e-6);
  assert_string_not_equal(ma.sha256, mb.sha256);
  free(la);
  free(lb);
  sw_llama_free(&ma);
  sw_llama_free(&mb);
}

static void test_gguf_equals_hf_f32(void **state) {
  (void)state;
  const char *dir = hf_ref_dir(), *gguf = gguf_path();
  if (!dir || !gguf) {
    printf("  SKIP: needs SW_HF_REF_DIR (tests/reference/gguf_to_hf.py output) and SW_MODEL_PATH\n");
    skip();
  }
  char f32[4096];
  snprintf(f32, sizeof f32, "%s/f32", dir);
  expect_same_model(gguf, f32);
}

/* Every tensor of a (F16/BF16, sharded) widens to exactly the f32 values of ref (NumPy's rounding). */
static void expect_same_tensors(const char *a, const char *ref) {
  sw_st_t *sa = NULL, *sr = NULL;
  sw_err_t err = {0};
  if (sw_st_open_dir(a, &sa, &err) || sw_st_open_dir(ref, &sr, &err)) fail_msg("%s", err.msg);
  assert_int_equal(sa->n_tensors, sr->n_tensors);
  size_t differ = 0, total = 0;
  for (size_t i = 0; i < sr->n_tensors; i++) {
    const sw_st_tensor_t *tr = &sr->tensors[i], *ta = sw_st_find(sa, tr->name);
    assert_non_null(ta);
    assert_int_equal(ta->n_elements, tr->n_elements);
    assert_memory_equal(ta->shape, tr->shape, sizeof ta->shape);
    float *x = malloc((size_t)tr->n_elements * sizeof *x), *y = malloc((size_t)tr->n_elements * sizeof *y);
    assert_true(x && y);
    assert_int_equal(sw_st_to_f32(sa, ta, x, &err), SW_OK);
    assert_int_equal(sw_st_to_f32(sr, tr, y, &err), SW_OK);
    for (int64_t e = 0; e < tr->n_elements; e++) differ += memcmp(&x[e], &y[e], sizeof *x) != 0;
    total += (size_t)tr->n_elements;
    free(x);
    free(y);
  }
  printf("  %s (%zu shards) vs %s: %zu of %zu values differ\n", a, sa->n_shards, ref, differ, total);
  assert_int_equal(differ, 0);
  sw_st_close(sa);
  sw_st_close(sr);
}

/* The f16 (3 shards + index) and bf16 (2 shards, no index) checkpoints load as a model too. */
static void test_f16_bf16_shards(void **state) {
  (void)state;
  const char *dir = hf_ref_dir();
  if (!dir) {
    printf("  SKIP: needs SW_HF_REF_DIR (tests/reference/gguf_to_hf.py output)\n");
    skip();
  }
  char a[4096], b[4096];
  snprintf(a, sizeof a, "%s/f16", dir);
  snprintf(b, sizeof b, "%s/f16_ref", dir);
  expect_same_tensors(a, b);
  snprintf(a, sizeof a, "%s/bf16", dir);
  snprintf(b, sizeof b, "%s/bf16_ref", dir);
  expect_same_tensors(a, b);
  sw_llama_t m;
  sw_err_t err = {0};
  if (sw_llama_load(&m, a, &err)) fail_msg("%s", err.msg);
  assert_int_equal(m.cfg.n_layer, 30);
  sw_llama_free(&m);
}

static void expect_same_ids(const sw_tokenizer_t *x, const sw_tokenizer_t *y, const char *text, size_t len,
                            const char *what) {
  int32_t *ix = NULL, *iy = NULL;
  size_t nx = 0, ny = 0;
  sw_err_t err = {0};
  assert_int_equal(sw_tokenizer_encode(x, text, len, 0, &ix, &nx, &err), SW_OK);
  assert_int_equal(sw_tokenizer_encode(y, text, len, 0, &iy, &ny, &err), SW_OK);
  printf("  %s: %zu bytes -> %zu and %zu ids\n", what, len, nx, ny);
  assert_int_equal(nx, ny);
  assert_memory_equal(ix, iy, nx * sizeof *ix);
  free(ix);
  free(iy);
}

static void test_tokenizer_ids(void **state) {
  (void)state;
  const char *dir = hf_ref_dir(), *gguf = gguf_path(), *text_path = getenv("SW_TEXT_PATH");
  if (!dir || !gguf || !text_path || access(text_path, R_OK) != 0) {
    printf("  SKIP: needs SW_HF_REF_DIR, SW_MODEL_PATH and SW_TEXT_PATH\n");
    skip();
  }
  char hf[4096];
  snprintf(hf, sizeof hf, "%s/f32", dir);
  sw_tokenizer_t *tg = NULL, *th = NULL;
  sw_err_t err = {0};
  if (sw_tokenizer_open(gguf, &tg, &err) || sw_tokenizer_open(hf, &th, &err)) fail_msg("%s", err.msg);
  assert_int_equal(sw_tokenizer_vocab_size(tg), sw_tokenizer_vocab_size(th));
  size_t len = 0;
  char *text = sw_test_read_file(text_path, &len);
  assert_non_null(text);
  expect_same_ids(tg, th, text, len, "Austen, GGUF vs tokenizer.json");
  free(text);
  /* the HF `tokenizers` package on the same tokenizer.json (written by the fixture when it is installed) */
  char p[4096];
  snprintf(p, sizeof p, "%s/hf_ids.bin", dir);
  size_t n_bin = 0, n_text = 0;
  char *bin = sw_test_read_file(p, &n_bin);
  snprintf(p, sizeof p, "%s/hf_ids_text.bin", dir);
  text = sw_test_read_file(p, &n_text);
  if (bin && text && n_bin >= 4) {
    uint32_t n_ref;
    memcpy(&n_ref, bin, 4);
    assert_int_equal(n_bin, 4 + (size_t)n_ref * 4);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    assert_int_equal(sw_tokenizer_encode(th, text, n_text, 0, &ids, &n_ids, &err), SW_OK);
    printf("  HF tokenizers vs tokenizer.json: %u and %zu ids\n", n_ref, n_ids);
    assert_int_equal(n_ids, n_ref);
    assert_memory_equal(ids, bin + 4, n_ids * sizeof *ids);
    free(ids);
  } else {
    printf("  (HF tokenizers comparison not run: %s missing; the tokenizers package is not installed)\n", p);
  }
  free(bin);
  free(text);
  sw_tokenizer_free(tg);
  sw_tokenizer_free(th);
}

/* ---- 4. the model workload on a checkpoint directory ---- */

/* One model-workload trial (workers/sw_trial_model.c) on model path `model` (weights NULL: the key not written);
 * returns the result JSON. */
static sw_json_t *run_trial_weights(sw_trial_cache_t *cache, const char *model, const char *text, const char *weights,
                                    sw_err_t *err) {
  char cfg_text[4096], w[64] = "";
  if (weights) snprintf(w, sizeof w, ",\"weights\":\"%s\"", weights);
  snprintf(cfg_text, sizeof cfg_text,
           "{\"workload\":\"model\",\"model\":\"%s\",\"text\":\"%s\",\"calib_tokens\":64,\"eval_tokens\":64,"
           "\"window\":32,\"prompt_tokens\":8,\"decode_tokens\":2,\"repetitions\":1,\"warmup\":0,\"layers\":\"0-3\","
           "\"method\":\"cats\",\"sparsity\":0.5%s}", model, text, w);
  sw_json_t *cfg = NULL, *res = NULL;
  assert_int_equal(sw_json_parse(cfg_text, strlen(cfg_text), &cfg, err), SW_OK);
  sw_trial_out_t out;
  sw_trial_out_init(&out);
  sw_rc rc = sw_trial_prepare_model(cache, cfg, err);
  if (!rc) rc = sw_trial_run_model(cache, cfg, &out, err);
  if (rc) {
    sw_trial_out_free(&out);
    sw_json_free(cfg);
    return NULL;
  }
  sw_buf_t b = SW_BUF_INIT;
  sw_trial_out_json(&out, &b);
  assert_int_equal(sw_json_parse(b.data, b.len, &res, err), SW_OK);
  sw_buf_free(&b);
  sw_trial_out_free(&out);
  sw_json_free(cfg);
  return res;
}

static sw_json_t *run_trial(sw_trial_cache_t *cache, const char *model, const char *text) {
  sw_err_t err = {0};
  sw_json_t *res = run_trial_weights(cache, model, text, "f32", &err);
  if (!res) fail_msg("trial on %s: %s", model, err.msg);
  return res;
}

/* A metric entry by name (model_sha256 carries the digest as its unit). */
static const sw_json_t *metric_item(const sw_json_t *res, const char *name) {
  const sw_json_t *ms = sw_json_get(res, "metrics");
  for (size_t i = 0; ms && i < ms->count; i++) {
    const sw_json_t *n = sw_json_get(&ms->items[i], "name");
    if (n && n->kind == SW_JSON_STRING && strcmp(n->string, name) == 0) return &ms->items[i];
  }
  fail_msg("metric '%s' missing", name);
  return NULL;
}

static double metric_value(const sw_json_t *res, const char *name) {
  return sw_json_get(metric_item(res, name), "value")->number;
}

/* `model: DIR` runs the workload (calibration, CATS at 0.5, evaluation) with the GGUF's exact numbers. */
static void test_model_workload_on_dir(void **state) {
  (void)state;
  const char *dir = hf_ref_dir(), *gguf = gguf_path(), *text = getenv("SW_TEXT_PATH");
  if (!dir || !gguf || !text || access(text, R_OK) != 0) {
    printf("  SKIP: needs SW_HF_REF_DIR, SW_MODEL_PATH and SW_TEXT_PATH\n");
    skip();
  }
  char f32[4096];
  snprintf(f32, sizeof f32, "%s/f32", dir);
  sw_trial_cache_t cache = {0};
  sw_json_t *rg = run_trial(&cache, gguf, text), *rh = run_trial(&cache, f32, text);
  static const char *const same[] = {"ppl", "ppl_dense", "kl", "achieved_sparsity", "eval_tokens"};
  for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
    printf("  %-18s GGUF %.9g  HF %.9g\n", same[i], metric_value(rg, same[i]), metric_value(rh, same[i]));
    assert_true(metric_value(rg, same[i]) == metric_value(rh, same[i]));
  }
  assert_true(metric_value(rg, "model_hf") == 0.0 && metric_value(rh, "model_hf") == 1.0);
  const char *hash = sw_json_get(metric_item(rh, "model_sha256"), "unit")->string;
  assert_int_equal(strlen(hash), 64);
  assert_string_not_equal(hash, sw_json_get(metric_item(rg, "model_sha256"), "unit")->string);
  /* weights: native on a directory (no quantised blocks) is refused, not run on f32 under the native label; so is
   * a config that does not write weights (native is the default), with the hint to write f32 */
  for (int written = 0; written < 2; written++) {
    sw_err_t err = {0};
    assert_null(run_trial_weights(&cache, f32, text, written ? "native" : NULL, &err));
    assert_non_null(strstr(err.msg, "weights: native (the default) is refused"));
    assert_non_null(strstr(err.msg, "Hugging Face checkpoint directory"));
    assert_non_null(strstr(err.msg, "HINT: weights: f32"));
  }
  sw_json_free(rg);
  sw_json_free(rh);
  sw_trial_cache_free(&cache);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_corrupt_table),    cmocka_unit_test(test_dtype_conversion),
      cmocka_unit_test(test_tiny_permutation), cmocka_unit_test(test_dir_errors),
      cmocka_unit_test(test_shard_errors),     cmocka_unit_test(test_tokenizer_json),
      cmocka_unit_test(test_gguf_equals_hf_f32), cmocka_unit_test(test_f16_bf16_shards),
      cmocka_unit_test(test_tokenizer_ids),    cmocka_unit_test(test_model_workload_on_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
