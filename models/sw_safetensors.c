/* sw_safetensors: bounded parsing of safetensors shards.  Order of checks per file: the 8-byte header length
 * (must fit in the file and under SW_ST_MAX_HEADER), the header JSON (common/sw_json.c: bounded depth, sizes
 * and unique keys), then each entry's dtype, shape (product overflow-checked) and data_offsets (inside the
 * data section, end - begin = elements × dtype size), then no two extents of one file may overlap.  Across
 * shards a tensor name may appear once. */
#include "models/sw_safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sw_hash.h"
#include "common/sw_json.h"
#include "models/sw_types.h"

static const struct {
  const char *name;
  size_t      size;
} dtype_table[SW_ST_DTYPE_COUNT] = {
    [SW_ST_BOOL] = {"BOOL", 1},       [SW_ST_U8] = {"U8", 1},   [SW_ST_I8] = {"I8", 1},
    [SW_ST_F8_E5M2] = {"F8_E5M2", 1}, [SW_ST_F8_E4M3] = {"F8_E4M3", 1},
    [SW_ST_I16] = {"I16", 2},         [SW_ST_U16] = {"U16", 2}, [SW_ST_F16] = {"F16", 2},
    [SW_ST_BF16] = {"BF16", 2},       [SW_ST_I32] = {"I32", 4}, [SW_ST_U32] = {"U32", 4},
    [SW_ST_F32] = {"F32", 4},         [SW_ST_I64] = {"I64", 8}, [SW_ST_U64] = {"U64", 8},
    [SW_ST_F64] = {"F64", 8},
};

const char *sw_st_dtype_name(sw_st_dtype_t t) { return (unsigned)t < SW_ST_DTYPE_COUNT ? dtype_table[t].name : "?"; }

/* The set being built: tensors grow as shards are parsed. */
typedef struct st_builder {
  sw_st_t  *st;
  size_t    cap;  /* tensors allocated */
  sw_err_t *err;
} st_builder_t;

static sw_rc st_dtype(const sw_json_t *v, const char *name, sw_st_dtype_t *out, sw_err_t *err) {
  if (!v || v->kind != SW_JSON_STRING)
    return sw_err_set(err, SW_ERR_PARSE, "safetensors: tensor '%.200s': \"dtype\" missing or not a string", name);
  for (int t = 0; t < SW_ST_DTYPE_COUNT; t++)
    if (strcmp(v->string, dtype_table[t].name) == 0) {
      *out = (sw_st_dtype_t)t;
      return SW_OK;
    }
  return sw_err_set(err, SW_ERR_PARSE, "safetensors: tensor '%.200s': dtype '%.40s' is not a safetensors dtype", name,
                    v->string);
}

static sw_rc st_shape(const sw_json_t *v, sw_st_tensor_t *t, sw_err_t *err) {
  if (!v || v->kind != SW_JSON_ARRAY)
    return sw_err_set(err, SW_ERR_PARSE, "safetensors: tensor '%.200s': \"shape\" missing or not an array", t->name);
  if (v->count > SW_ST_MAX_DIMS)
    return sw_err_set(err, SW_ERR_RANGE, "safetensors: tensor '%.200s': %zu dimensions (at most %d)", t->name,
                      v->count, SW_ST_MAX_DIMS);
  int64_t prod = 1;
  for (size_t d = 0; d < v->count; d++) {
    const sw_json_t *e = &v->items[d];
    if (e->kind != SW_JSON_NUMBER || !e->is_integer || e->integer < 0)
      return sw_err_set(err, SW_ERR_PARSE, "safetensors: tensor '%.200s': shape[%zu] is not a non-negative integer",
                        t->name, d);
    if (e->integer != 0 && prod > INT64_MAX / e->integer)
      return sw_err_set(err, SW_ERR_RANGE, "safetensors: tensor '%.200s': element count overflows at shape[%zu]",
                        t->name, d);
    t->shape[d] = e->integer;
    prod *= e->integer;
  }
  t->n_dims = (int)v->count;
  t->n_elements = prod;
  return SW_OK;
}

/* data_offsets [begin, end] relative to the data section of data_len bytes; end - begin must be the size. */
static sw_rc st_extent(const sw_json_t *v, sw_st_tensor_t *t, const uint8_t *data, size_t data_len, sw_err_t *err) {
  if (!v || v->kind != SW_JSON_ARRAY || v->count != 2)
    return sw_err_set(err, SW_ERR_PARSE, "safetensors: tensor '%.200s': \"data_offsets\" is not [begin, end]",
                      t->name);
  int64_t be[2];
  for (int i = 0; i < 2; i++) {
    const sw_json_t *e = &v->items[i];
    if (e->kind != SW_JSON_NUMBER || !e->is_integer || e->integer < 0)
      return sw_err_set(err, SW_ERR_PARSE, "safetensors: tensor '%.200s': data_offsets[%d] is not a non-negative "
                        "integer", t->name, i);
    be[i] = e->integer;
  }
  if (be[0] > be[1] || (uint64_t)be[1] > data_len)
    return sw_err_set(err, SW_ERR_RANGE, "safetensors: tensor '%.200s': data_offsets [%lld, %lld] outside the %zu "
                      "bytes of data", t->name, (long long)be[0], (long long)be[1], data_len);
  size_t esz = dtype_table[t->dtype].size;
  if ((uint64_t)t->n_elements > SIZE_MAX / esz || (size_t)(be[1] - be[0]) != (size_t)t->n_elements * esz)
    return sw_err_set(err, SW_ERR_PARSE, "safetensors: tensor '%.200s': %lld bytes in data_offsets but shape × %s "
                      "needs %lld elements of %zu bytes", t->name, (long long)(be[1] - be[0]),
                      dtype_table[t->dtype].name, (long long)t->n_elements, esz);
  t->data = data + be[0];
  t->nbytes = (size_t)(be[1] - be[0]);
  return SW_OK;
}

static sw_rc st_entry(const char *name, const sw_json_t *v, sw_st_tensor_t *t, const uint8_t *data, size_t data_len,
                      sw_err_t *err) {
  if (name[0] == 0) return sw_err_set(err, SW_ERR_PARSE, "safetensors: a tensor has an empty name");
  t->name = strdup(name);
  if (!t->name) return sw_err_set(err, SW_ERR_NOMEM, "safetensors: out of memory");
  if (v->kind != SW_JSON_OBJECT)
    return sw_err_set(err, SW_ERR_PARSE, "safetensors: tensor '%.200s': entry is not an object", name);
  for (size_t i = 0; i < v->count; i++)
    if (strcmp(v->keys[i], "dtype") && strcmp(v->keys[i], "shape") && strcmp(v->keys[i], "data_offsets"))
      return sw_err_set(err, SW_ERR_PARSE, "safetensors: tensor '%.200s': unknown field '%.60s'", name, v->keys[i]);
  sw_rc rc = st_dtype(sw_json_get(v, "dtype"), name, &t->dtype, err);
  if (!rc) rc = st_shape(sw_json_get(v, "shape"), t, err);
  if (!rc) rc = st_extent(sw_json_get(v, "data_offsets"), t, data, data_len, err);
  return rc;
}

static sw_rc st_reserve(st_builder_t *b, size_t more) {
  sw_st_t *st = b->st;
  if (st->n_tensors + more <= b->cap) return SW_OK;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < st->n_tensors + more) cap *= 2;
  sw_st_tensor_t *t = realloc(st->tensors, cap * sizeof *t);
  if (!t) return sw_err_set(b->err, SW_ERR_NOMEM, "safetensors: out of memory for %zu tensors", cap);
  memset(t + b->cap, 0, (cap - b->cap) * sizeof *t);
  st->tensors = t;
  b->cap = cap;
  return SW_OK;
}

static int cmp_by_offset(const void *a, const void *b) {
  const sw_st_tensor_t *x = *(const sw_st_tensor_t *const *)a, *y = *(const sw_st_tensor_t *const *)b;
  return x->data < y->data ? -1 : x->data > y->data;
}

/* No two non-empty extents among tensors[first..n) may share a byte. */
static sw_rc st_check_overlap(st_builder_t *b, size_t first) {
  size_t n = b->st->n_tensors - first;
  if (n < 2) return SW_OK;
  const sw_st_tensor_t **order = malloc(n * sizeof *order);
  if (!order) return sw_err_set(b->err, SW_ERR_NOMEM, "safetensors: out of memory");
  for (size_t i = 0; i < n; i++) order[i] = &b->st->tensors[first + i];
  qsort(order, n, sizeof *order, cmp_by_offset);
  sw_rc rc = SW_OK;
  const sw_st_tensor_t *prev = NULL;
  for (size_t i = 0; !rc && i < n; i++) {
    if (order[i]->nbytes == 0) continue;
    if (prev && order[i]->data < prev->data + prev->nbytes)
      rc = sw_err_set(b->err, SW_ERR_PARSE, "safetensors: tensors '%.200s' and '%.200s' overlap in data_offsets",
                      prev->name, order[i]->name);
    prev = order[i];
  }
  free(order);
  return rc;
}

/* Reads the header of shard `shard` and appends its tensors. */
static sw_rc st_parse_shard(st_builder_t *b, size_t shard) {
  const sw_st_shard_t *f = &b->st->shards[shard];
  if (f->len < 8)
    return sw_err_set(b->err, SW_ERR_TRUNCATED, "safetensors: %zu bytes: too short for the 8-byte header length",
                      f->len);
  uint64_t n = 0;
  for (int i = 0; i < 8; i++) n |= (uint64_t)f->buf[i] << (8 * i);
  if (n > SW_ST_MAX_HEADER)
    return sw_err_set(b->err, SW_ERR_RANGE, "safetensors: header length %llu exceeds the cap of %llu bytes",
                      (unsigned long long)n, (unsigned long long)SW_ST_MAX_HEADER);
  if (n > f->len - 8)
    return sw_err_set(b->err, SW_ERR_TRUNCATED, "safetensors: header length %llu exceeds the %zu bytes after it",
                      (unsigned long long)n, f->len - 8);
  sw_json_t *h = NULL;
  sw_rc rc = sw_json_parse((const char *)f->buf + 8, (size_t)n, &h, b->err);
  if (rc) return sw_err_prefix(b->err, "safetensors: header JSON");
  if (h->kind != SW_JSON_OBJECT) rc = sw_err_set(b->err, SW_ERR_PARSE, "safetensors: header is not a JSON object");
  const uint8_t *data = f->buf + 8 + n;
  size_t data_len = f->len - 8 - (size_t)n, first = b->st->n_tensors;
  if (!rc) rc = st_reserve(b, h->count);
  for (size_t i = 0; !rc && i < h->count; i++) {
    if (strcmp(h->keys[i], "__metadata__") == 0) {
      if (h->items[i].kind != SW_JSON_OBJECT)
        rc = sw_err_set(b->err, SW_ERR_PARSE, "safetensors: __metadata__ is not an object");
      continue;
    }
    sw_st_tensor_t *t = &b->st->tensors[b->st->n_tensors++];
    t->shard = shard;
    rc = st_entry(h->keys[i], &h->items[i], t, data, data_len, b->err);
  }
  sw_json_free(h);
  if (!rc) rc = st_check_overlap(b, first);
  return rc;
}

static int cmp_by_name(const void *a, const void *b) {
  return strcmp(((const sw_st_tensor_t *)a)->name, ((const sw_st_tensor_t *)b)->name);
}

static sw_rc st_sort_unique(st_builder_t *b) {
  sw_st_t *st = b->st;
  if (st->n_tensors > 1) qsort(st->tensors, st->n_tensors, sizeof *st->tensors, cmp_by_name);
  for (size_t i = 1; i < st->n_tensors; i++)
    if (strcmp(st->tensors[i - 1].name, st->tensors[i].name) == 0)
      return sw_err_set(b->err, SW_ERR_PARSE, "safetensors: duplicate tensor name '%.200s' (in %s and %s)",
                        st->tensors[i].name, st->shards[st->tensors[i - 1].shard].path,
                        st->shards[st->tensors[i].shard].path);
  return SW_OK;
}

void sw_st_close(sw_st_t *st) {
  if (!st) return;
  for (size_t i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
  free(st->tensors);
  for (size_t i = 0; i < st->n_shards; i++) {
    if (st->shards[i].map) munmap(st->shards[i].map, st->shards[i].len);
    free(st->shards[i].path);
  }
  free(st->shards);
  free(st);
}

static sw_st_t *st_new(size_t n_shards) {
  sw_st_t *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  st->shards = calloc(n_shards ? n_shards : 1, sizeof *st->shards);
  if (!st->shards) {
    free(st);
    return NULL;
  }
  return st;
}

sw_rc sw_st_parse(const void *buf, size_t len, sw_st_t **out, sw_err_t *err) {
  *out = NULL;
  sw_st_t *st = st_new(1);
  if (!st) return sw_err_set(err, SW_ERR_NOMEM, "safetensors: out of memory");
  st->n_shards = 1;
  st->shards[0].path = strdup("<memory>");
  st->shards[0].buf = buf;
  st->shards[0].len = buf ? len : 0;
  st_builder_t b = {st, 0, err};
  sw_rc rc = st->shards[0].path ? SW_OK : sw_err_set(err, SW_ERR_NOMEM, "safetensors: out of memory");
  if (!rc) rc = st_parse_shard(&b, 0);
  if (!rc) rc = st_sort_unique(&b);
  if (rc) {
    sw_st_close(st);
    return rc;
  }
  *out = st;
  return SW_OK;
}

const sw_st_tensor_t *sw_st_find(const sw_st_t *st, const char *name) {
  size_t lo = 0, hi = st->n_tensors;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(st->tensors[mid].name, name);
    if (c == 0) return &st->tensors[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

sw_rc sw_st_to_f32(const sw_st_t *st, const sw_st_tensor_t *t, float *dst, sw_err_t *err) {
  /* the same little-endian IEEE layouts as GGUF's f32/f16/bf16: models/sw_types.c converts them */
  uint32_t type = t->dtype == SW_ST_F32 ? SW_TYPE_F32 : t->dtype == SW_ST_F16 ? SW_TYPE_F16 : SW_TYPE_BF16;
  if (t->dtype != SW_ST_F32 && t->dtype != SW_ST_F16 && t->dtype != SW_ST_BF16)
    return sw_err_set(err, SW_ERR_UNSUPPORTED, "%s: tensor '%.200s': dtype %s is not supported (F32, F16, BF16)",
                      st->shards[t->shard].path, t->name, sw_st_dtype_name(t->dtype));
  return sw_dequant(dst, t->data, (size_t)t->n_elements, type, t->name, err);
}

/* ---- files and directories ---- */

static sw_rc st_map_file(sw_st_shard_t *f, sw_err_t *err) {
  int fd = open(f->path, O_RDONLY);
  if (fd < 0) return sw_err_set(err, SW_ERR_IO, "%s: cannot open: %s", f->path, strerror(errno));
  struct stat sb;
  sw_rc rc = SW_OK;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) rc = sw_err_set(err, SW_ERR_IO, "%s: not a regular file", f->path);
  else if (sb.st_size == 0) f->buf = (const uint8_t *)"", f->len = 0;
  else {
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) rc = sw_err_set(err, SW_ERR_IO, "%s: cannot map: %s", f->path, strerror(errno));
    else f->map = p, f->buf = p, f->len = (size_t)sb.st_size;
  }
  close(fd);
  return rc;
}

static char *path_join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, name);
  return p;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n > m && strcmp(s + n - m, suffix) == 0;
}

static int cmp_cstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct name_list {
  char **v;
  size_t n, cap;
} name_list_t;

static void names_free(name_list_t *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
}

static int names_add(name_list_t *l, const char *s) {
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->v[i], s) == 0) return 0;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    char **v = realloc(l->v, cap * sizeof *v);
    if (!v) return -1;
    l->v = v, l->cap = cap;
  }
  l->v[l->n] = strdup(s);
  if (!l->v[l->n]) return -1;
  l->n++;
  return 0;
}

/* Every "*.safetensors" regular name in dir, sorted. */
static sw_rc list_shards(const char *dir, name_list_t *l, sw_err_t *err) {
  DIR *d = opendir(dir);
  if (!d) return sw_err_set(err, SW_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
  sw_rc rc = SW_OK;
  for (struct dirent *e; !rc && (e = readdir(d));) {
    if (!ends_with(e->d_name, ".safetensors")) continue;
    if (l->n >= SW_ST_MAX_SHARDS) rc = sw_err_set(err, SW_ERR_RANGE, "%s: more than %d shards", dir, SW_ST_MAX_SHARDS);
    else if (names_add(l, e->d_name)) rc = sw_err_set(err, SW_ERR_NOMEM, "%s: out of memory", dir);
  }
  closedir(d);
  if (!rc && l->n == 0) rc = sw_err_set(err, SW_ERR_NOTFOUND, "%s: no *.safetensors file", dir);
  return rc;
}

sw_rc sw_st_read_json(const char *path, size_t cap, sw_json_t **out, char *sha256, sw_err_t *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return sw_err_set(err, SW_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  char *text = NULL;
  sw_rc rc = SW_OK;
  if (fstat(fileno(f), &sb) != 0 || sb.st_size < 0 || (uint64_t)sb.st_size > cap)
    rc = sw_err_set(err, SW_ERR_RANGE, "%s: unreadable or larger than %zu bytes", path, cap);
  else if (!(text = malloc((size_t)sb.st_size + 1)))
    rc = sw_err_set(err, SW_ERR_NOMEM, "%s: out of memory", path);
  else if (fread(text, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size)
    rc = sw_err_set(err, SW_ERR_IO, "%s: read failed", path);
  fclose(f);
  if (!rc && (rc = sw_json_parse(text, (size_t)sb.st_size, out, err))) sw_err_prefix(err, "%s", path);
  if (!rc && sha256) sw_sha256_hex(text, (size_t)sb.st_size, sha256);
  free(text);
  return rc;
}

/* A shard file name from the index: a plain name inside the directory. */
static int plain_name(const char *s) { return s[0] && s[0] != '.' && !strchr(s, '/'); }

/* Parses model.safetensors.index.json (weight_map: tensor -> shard file); *index is NULL when absent. */
static sw_rc read_index(const char *dir, sw_json_t **index, name_list_t *l, sw_err_t *err) {
  *index = NULL;
  char *path = path_join(dir, "model.safetensors.index.json");
  if (!path) return sw_err_set(err, SW_ERR_NOMEM, "out of memory");
  sw_rc rc = SW_OK;
  if (access(path, F_OK) != 0) goto done;
  if ((rc = sw_st_read_json(path, SW_ST_MAX_HEADER, index, NULL, err))) goto done;
  const sw_json_t *map = sw_json_get(*index, "weight_map");
  if (!map || map->kind != SW_JSON_OBJECT) rc = sw_err_set(err, SW_ERR_PARSE, "%s: no \"weight_map\" object", path);
  for (size_t i = 0; !rc && map && i < map->count; i++) {
    const sw_json_t *v = &map->items[i];
    if (v->kind != SW_JSON_STRING || !plain_name(v->string))
      rc = sw_err_set(err, SW_ERR_PARSE, "%s: weight_map['%.200s'] is not a file name in the directory", path,
                      map->keys[i]);
    else if (names_add(l, v->string)) rc = sw_err_set(err, SW_ERR_NOMEM, "%s: out of memory", path);
    else if (l->n > SW_ST_MAX_SHARDS) rc = sw_err_set(err, SW_ERR_RANGE, "%s: more than %d shards", path, SW_ST_MAX_SHARDS);
  }
  if (!rc && l->n == 0) rc = sw_err_set(err, SW_ERR_PARSE, "%s: weight_map is empty", path);
done:
  free(path);
  return rc;
}

/* Each index entry's tensor must live in the shard the index names. */
static sw_rc check_index(const sw_st_t *st, const sw_json_t *index, const char *dir, sw_err_t *err) {
  const sw_json_t *map = sw_json_get(index, "weight_map");
  for (size_t i = 0; i < map->count; i++) {
    const sw_st_tensor_t *t = sw_st_find(st, map->keys[i]);
    const char *want = map->items[i].string;
    if (!t)
      return sw_err_set(err, SW_ERR_NOTFOUND, "%s/model.safetensors.index.json: tensor '%.200s' is not in %s", dir,
                        map->keys[i], want);
    const char *have = strrchr(st->shards[t->shard].path, '/');
    if (strcmp(have ? have + 1 : st->shards[t->shard].path, want) != 0)
      return sw_err_set(err, SW_ERR_PARSE, "%s/model.safetensors.index.json: tensor '%.200s' is in %s, not %s", dir,
                        map->keys[i], st->shards[t->shard].path, want);
  }
  return SW_OK;
}

static sw_rc open_shards(sw_st_t *st, const char *dir, const name_list_t *l, sw_err_t *err) {
  st_builder_t b = {st, 0, err};
  sw_rc rc = SW_OK;
  for (size_t i = 0; !rc && i < l->n; i++) {
    sw_st_shard_t *f = &st->shards[i];
    if (!(f->path = path_join(dir, l->v[i]))) return sw_err_set(err, SW_ERR_NOMEM, "out of memory");
    st->n_shards = i + 1;
    rc = st_map_file(f, err);
    if (!rc && (rc = st_parse_shard(&b, i))) sw_err_prefix(err, "%s", f->path);
  }
  if (!rc) rc = st_sort_unique(&b);
  return rc;
}

void sw_st_hash_shards(sw_st_t *st) {
  for (size_t i = 0; i < st->n_shards; i++) sw_sha256_hex(st->shards[i].buf, st->shards[i].len, st->shards[i].sha256);
}

sw_rc sw_st_open_dir(const char *dir, sw_st_t **out, sw_err_t *err) {
  *out = NULL;
  name_list_t names = {0};
  sw_json_t *index = NULL;
  sw_rc rc = read_index(dir, &index, &names, err);
  if (!rc && !index) rc = list_shards(dir, &names, err);
  if (!rc) qsort(names.v, names.n, sizeof *names.v, cmp_cstr); /* shards in name order, index or not */
  sw_st_t *st = rc ? NULL : st_new(names.n);
  if (!rc && !st) rc = sw_err_set(err, SW_ERR_NOMEM, "out of memory");
  if (!rc) rc = open_shards(st, dir, &names, err);
  if (!rc && index) rc = check_index(st, index, dir, err);
  names_free(&names);
  sw_json_free(index);
  if (rc) {
    sw_st_close(st);
    return rc;
  }
  *out = st;
  return SW_OK;
}
