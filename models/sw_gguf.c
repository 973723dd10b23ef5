/* sw_gguf: GGUF parsing through the bounded cursor.  Order of checks follows the file: header, key/value
 * pairs, tensor infos, alignment, then tensor offsets (each must equal the running, alignment-padded sum,
 * as ggml requires) and the data extent.  No byte of the input is touched outside sw_cursor_* reads,
 * except tensor data, whose extent is validated before its pointer is taken. */
#include "models/sw_gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sw_cursor.h"

typedef struct gguf_parser {
  sw_cursor_t c;   /* over the whole input */
  sw_gguf_t  *g;   /* context being filled */
  sw_err_t   *err; /* destination for the first failure */
} gguf_parser_t;

static const char *const vtype_names[SW_GGUF_VTYPE_COUNT] = {
    [SW_GGUF_U8] = "u8",   [SW_GGUF_I8] = "i8",         [SW_GGUF_U16] = "u16",  [SW_GGUF_I16] = "i16",
    [SW_GGUF_U32] = "u32", [SW_GGUF_I32] = "i32",       [SW_GGUF_F32] = "f32",  [SW_GGUF_BOOL] = "bool",
    [SW_GGUF_STRING] = "string", [SW_GGUF_ARRAY] = "array", [SW_GGUF_U64] = "u64", [SW_GGUF_I64] = "i64",
    [SW_GGUF_F64] = "f64",
};

/* Bytes of one element of a fixed-size value type; 0 for string and array. */
static const size_t vtype_sizes[SW_GGUF_VTYPE_COUNT] = {
    [SW_GGUF_U8] = 1,  [SW_GGUF_I8] = 1,   [SW_GGUF_U16] = 2, [SW_GGUF_I16] = 2, [SW_GGUF_U32] = 4,
    [SW_GGUF_I32] = 4, [SW_GGUF_F32] = 4,  [SW_GGUF_BOOL] = 1, [SW_GGUF_STRING] = 0, [SW_GGUF_ARRAY] = 0,
    [SW_GGUF_U64] = 8, [SW_GGUF_I64] = 8,  [SW_GGUF_F64] = 8,
};

const char *sw_gguf_vtype_name(uint32_t t) { return t < SW_GGUF_VTYPE_COUNT ? vtype_names[t] : "unknown"; }

static int is_int_type(sw_gguf_vtype t) {
  return t == SW_GGUF_U8 || t == SW_GGUF_I8 || t == SW_GGUF_U16 || t == SW_GGUF_I16 || t == SW_GGUF_U32 ||
         t == SW_GGUF_I32 || t == SW_GGUF_U64 || t == SW_GGUF_I64 || t == SW_GGUF_BOOL;
}

static sw_rc trunc_err(gguf_parser_t *p, const char *what, size_t need) {
  return sw_err_set(p->err, SW_ERR_TRUNCATED, "gguf: %s: needs %zu bytes at offset %zu but only %zu remain", what,
                    need, p->c.pos, sw_cursor_remain(&p->c));
}

static sw_rc rd_u32(gguf_parser_t *p, uint32_t *v, const char *what) {
  return sw_cursor_u32(&p->c, v) ? trunc_err(p, what, 4) : SW_OK;
}

static sw_rc rd_u64(gguf_parser_t *p, uint64_t *v, const char *what) {
  return sw_cursor_u64(&p->c, v) ? trunc_err(p, what, 8) : SW_OK;
}

/* Reads a GGUF string (u64 length + bytes), capped at max bytes.  *s borrows the input. */
static sw_rc rd_string(gguf_parser_t *p, uint64_t max, sw_gguf_str_t *s, const char *what) {
  uint64_t n;
  sw_rc rc = rd_u64(p, &n, what);
  if (rc) return rc;
  if (n > max)
    return sw_err_set(p->err, SW_ERR_RANGE, "gguf: %s: string length %llu exceeds the cap of %llu bytes", what,
                      (unsigned long long)n, (unsigned long long)max);
  if (n > sw_cursor_remain(&p->c))
    return sw_err_set(p->err, SW_ERR_TRUNCATED,
                      "gguf: %s: string length %llu exceeds the %zu bytes remaining at offset %zu", what,
                      (unsigned long long)n, sw_cursor_remain(&p->c), p->c.pos);
  const uint8_t *bytes;
  if (sw_cursor_bytes(&p->c, (size_t)n, &bytes)) return trunc_err(p, what, (size_t)n);
  s->ptr = (const char *)bytes;
  s->len = (size_t)n;
  return SW_OK;
}

/* A NUL-terminated owned copy of a name (key or tensor name): non-empty, no interior NUL. */
static sw_rc dup_name(gguf_parser_t *p, sw_gguf_str_t s, char **out, const char *what) {
  if (s.len == 0) return sw_err_set(p->err, SW_ERR_PARSE, "gguf: %s: empty name", what);
  if (memchr(s.ptr, 0, s.len)) return sw_err_set(p->err, SW_ERR_PARSE, "gguf: %s: name contains a NUL byte", what);
  char *d = malloc(s.len + 1);
  if (!d) return sw_err_set(p->err, SW_ERR_NOMEM, "gguf: %s: out of memory", what);
  memcpy(d, s.ptr, s.len);
  d[s.len] = 0;
  *out = d;
  return SW_OK;
}

static sw_rc rd_vtype(gguf_parser_t *p, sw_gguf_vtype *t, const char *what) {
  uint32_t v;
  sw_rc rc = rd_u32(p, &v, what);
  if (rc) return rc;
  if (v >= SW_GGUF_VTYPE_COUNT)
    return sw_err_set(p->err, SW_ERR_PARSE, "gguf: %s: value_type %u is not a GGUF metadata type (0..12)", what, v);
  *t = (sw_gguf_vtype)v;
  return SW_OK;
}

/* Reads one fixed-size scalar into kv->num. */
static sw_rc rd_scalar(gguf_parser_t *p, sw_gguf_vtype t, sw_gguf_kv_t *kv, const char *what) {
  const uint8_t *b;
  size_t n = vtype_sizes[t];
  if (sw_cursor_bytes(&p->c, n, &b)) return trunc_err(p, what, n);
  uint64_t u = 0;
  for (size_t i = 0; i < n; i++) u |= (uint64_t)b[i] << (8 * i);
  switch (t) {
    case SW_GGUF_I8: kv->num.i = (int8_t)u; break;
    case SW_GGUF_I16: kv->num.i = (int16_t)u; break;
    case SW_GGUF_I32: kv->num.i = (int32_t)u; break;
    case SW_GGUF_I64: memcpy(&kv->num.i, &u, 8); break;
    case SW_GGUF_BOOL:
      if (u > 1) return sw_err_set(p->err, SW_ERR_PARSE, "gguf: %s: bool value %llu is not 0 or 1", what,
                                   (unsigned long long)u);
      kv->num.i = (int64_t)u;
      break;
    case SW_GGUF_F32: {
      uint32_t w = (uint32_t)u;
      float f;
      memcpy(&f, &w, 4);
      kv->num.f = f;
      break;
    }
    case SW_GGUF_F64: memcpy(&kv->num.f, &u, 8); break;
    default: kv->num.u = u; break;
  }
  return SW_OK;
}

static sw_rc rd_array(gguf_parser_t *p, sw_gguf_kv_t *kv, int depth, const char *what);

/* Validates and skips a nested array's elements (their contents are not kept). */
static sw_rc skip_nested(gguf_parser_t *p, uint64_t count, int depth, const char *what) {
  for (uint64_t i = 0; i < count; i++) {
    sw_gguf_kv_t tmp;
    memset(&tmp, 0, sizeof tmp);
    sw_rc rc = rd_array(p, &tmp, depth + 1, what);
    free(tmp.arr_str);
    if (rc) return rc;
  }
  return SW_OK;
}

/* Reads an array value: u32 element type, u64 count, elements. */
static sw_rc rd_array(gguf_parser_t *p, sw_gguf_kv_t *kv, int depth, const char *what) {
  if (depth >= SW_GGUF_MAX_ARRAY_DEPTH)
    return sw_err_set(p->err, SW_ERR_RANGE, "gguf: %s: arrays nested deeper than %d", what, SW_GGUF_MAX_ARRAY_DEPTH);
  sw_rc rc = rd_vtype(p, &kv->arr_type, what);
  if (!rc) rc = rd_u64(p, &kv->arr_count, what);
  if (rc) return rc;
  uint64_t n = kv->arr_count;
  size_t esz = vtype_sizes[kv->arr_type];
  if (esz) {
    if (!sw_cursor_has_array(&p->c, n, esz))
      return sw_err_set(p->err, SW_ERR_TRUNCATED,
                        "gguf: %s: array count %llu of %s needs more than the %zu bytes remaining", what,
                        (unsigned long long)n, vtype_names[kv->arr_type], sw_cursor_remain(&p->c));
    if (kv->arr_type == SW_GGUF_BOOL) { /* every bool must be 0 or 1 before the raw bytes are exposed */
      const uint8_t *b;
      if (sw_cursor_bytes(&p->c, (size_t)n, &b)) return trunc_err(p, what, (size_t)n);
      for (uint64_t i = 0; i < n; i++)
        if (b[i] > 1)
          return sw_err_set(p->err, SW_ERR_PARSE, "gguf: %s: bool element %llu is %u, not 0 or 1", what,
                            (unsigned long long)i, b[i]);
      kv->arr_data = b;
      return SW_OK;
    }
    const uint8_t *b;
    if (sw_cursor_bytes(&p->c, (size_t)n * esz, &b)) return trunc_err(p, what, (size_t)n * esz);
    kv->arr_data = b;
    return SW_OK;
  }
  /* strings and nested arrays need at least 8 (length/type+count) bytes each */
  size_t min_elem = kv->arr_type == SW_GGUF_STRING ? 8 : 12;
  if (!sw_cursor_has_array(&p->c, n, min_elem))
    return sw_err_set(p->err, SW_ERR_TRUNCATED,
                      "gguf: %s: array count %llu of %s cannot fit in the %zu bytes remaining", what,
                      (unsigned long long)n, vtype_names[kv->arr_type], sw_cursor_remain(&p->c));
  if (kv->arr_type == SW_GGUF_ARRAY) return skip_nested(p, n, depth, what);
  kv->arr_str = calloc(n ? (size_t)n : 1, sizeof *kv->arr_str);
  if (!kv->arr_str) return sw_err_set(p->err, SW_ERR_NOMEM, "gguf: %s: out of memory for %llu strings", what,
                                      (unsigned long long)n);
  for (uint64_t i = 0; i < n; i++) {
    rc = rd_string(p, SW_GGUF_MAX_STRING, &kv->arr_str[i], what);
    if (rc) return rc;
  }
  return SW_OK;
}

static sw_rc rd_kv(gguf_parser_t *p, size_t idx, sw_gguf_kv_t *kv) {
  char what[160];
  snprintf(what, sizeof what, "kv %zu key", idx);
  sw_gguf_str_t key;
  sw_rc rc = rd_string(p, SW_GGUF_MAX_KEY, &key, what);
  if (!rc) rc = dup_name(p, key, &kv->key, what);
  if (rc) return rc;
  snprintf(what, sizeof what, "kv %zu ('%.100s')", idx, kv->key);
  rc = rd_vtype(p, &kv->type, what);
  if (rc) return rc;
  if (kv->type == SW_GGUF_ARRAY) return rd_array(p, kv, 0, what);
  if (kv->type == SW_GGUF_STRING) {
    sw_gguf_str_t s;
    rc = rd_string(p, SW_GGUF_MAX_STRING, &s, what);
    if (rc) return rc;
    kv->str = malloc(s.len + 1);
    if (!kv->str) return sw_err_set(p->err, SW_ERR_NOMEM, "gguf: %s: out of memory", what);
    memcpy(kv->str, s.ptr, s.len);
    kv->str[s.len] = 0;
    kv->str_len = s.len;
    return SW_OK;
  }
  return rd_scalar(p, kv->type, kv, what);
}

/* Reads shape, type and offset of one tensor and computes its element count, strides and byte size. */
static sw_rc rd_tensor_info(gguf_parser_t *p, size_t idx, sw_gguf_tensor_t *t) {
  char what[160];
  snprintf(what, sizeof what, "tensor %zu name", idx);
  sw_gguf_str_t name;
  sw_rc rc = rd_string(p, SW_GGUF_MAX_KEY, &name, what);
  if (!rc) rc = dup_name(p, name, &t->name, what);
  if (rc) return rc;
  snprintf(what, sizeof what, "tensor %zu ('%.100s')", idx, t->name);
  if ((rc = rd_u32(p, &t->n_dims, what))) return rc;
  if (t->n_dims < 1 || t->n_dims > SW_GGUF_MAX_DIMS)
    return sw_err_set(p->err, SW_ERR_PARSE, "gguf: %s: n_dims %u is not in 1..%d", what, t->n_dims,
                      SW_GGUF_MAX_DIMS);
  int64_t prod = 1;
  for (int d = 0; d < SW_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
  for (uint32_t d = 0; d < t->n_dims; d++) {
    uint64_t ne;
    if ((rc = rd_u64(p, &ne, what))) return rc;
    if (ne > (uint64_t)INT64_MAX)
      return sw_err_set(p->err, SW_ERR_RANGE, "gguf: %s: ne[%u] = %llu is negative as int64", what, d,
                        (unsigned long long)ne);
    if (ne != 0 && prod > INT64_MAX / (int64_t)ne)
      return sw_err_set(p->err, SW_ERR_RANGE, "gguf: %s: element count overflows int64 at ne[%u] = %llu", what, d,
                        (unsigned long long)ne);
    t->ne[d] = (int64_t)ne;
    prod *= (int64_t)ne;
  }
  t->n_elements = prod;
  if ((rc = rd_u32(p, &t->type, what))) return rc;
  const sw_type_traits_t *tr = sw_type_traits_get(t->type);
  if (!tr) return sw_err_set(p->err, SW_ERR_PARSE, "gguf: %s: ggml_type %u is not a known tensor type", what, t->type);
  if (t->ne[0] % (int64_t)tr->block_size != 0)
    return sw_err_set(p->err, SW_ERR_PARSE, "gguf: %s: ne[0] = %lld is not a multiple of the %s block size %zu", what,
                      (long long)t->ne[0], tr->name, tr->block_size);
  size_t row = sw_type_row_bytes(t->type, (uint64_t)t->ne[0]);
  if (row == 0 && t->ne[0] != 0)
    return sw_err_set(p->err, SW_ERR_RANGE, "gguf: %s: byte size of ne[0] = %lld %s elements overflows size_t", what,
                      (long long)t->ne[0], tr->name);
  t->nb[0] = tr->type_size;
  t->nb[1] = row;
  size_t total = row;
  for (int d = 1; d < SW_GGUF_MAX_DIMS; d++) {
    if (d >= 2) t->nb[d] = t->nb[d - 1] * (size_t)t->ne[d - 1];
    if (t->ne[d] != 0 && total > SIZE_MAX / (size_t)t->ne[d])
      return sw_err_set(p->err, SW_ERR_RANGE, "gguf: %s: byte size overflows size_t", what);
    total *= (size_t)t->ne[d];
  }
  t->nbytes = total;
  return rd_u64(p, &t->offset, what);
}

static int cmp_str_ptr(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Finds a duplicate among n names; returns it or NULL.  Sorting keeps hostile files with many names fast. */
static sw_rc find_duplicate(gguf_parser_t *p, const char **names, size_t n, const char *what) {
  if (n < 2) return SW_OK;
  qsort(names, n, sizeof *names, cmp_str_ptr);
  for (size_t i = 1; i < n; i++)
    if (strcmp(names[i - 1], names[i]) == 0)
      return sw_err_set(p->err, SW_ERR_PARSE, "gguf: duplicate %s '%.200s'", what, names[i]);
  return SW_OK;
}

static sw_rc check_duplicates(gguf_parser_t *p, int keys, int tensors) {
  sw_gguf_t *g = p->g;
  size_t n = keys ? g->n_kv : g->n_tensors;
  const char **names = malloc((n ? n : 1) * sizeof *names);
  if (!names) return sw_err_set(p->err, SW_ERR_NOMEM, "gguf: out of memory checking names");
  for (size_t i = 0; i < n; i++) names[i] = keys ? g->kv[i].key : g->tensors[i].name;
  sw_rc rc = find_duplicate(p, names, n, tensors ? "tensor name" : "key");
  free(names);
  return rc;
}

static sw_rc read_alignment(gguf_parser_t *p) {
  p->g->alignment = SW_GGUF_DEFAULT_ALIGNMENT;
  int64_t i = sw_gguf_find_key(p->g, "general.alignment");
  if (i < 0) return SW_OK;
  const sw_gguf_kv_t *kv = &p->g->kv[i];
  if (kv->type != SW_GGUF_U32)
    return sw_err_set(p->err, SW_ERR_PARSE, "gguf: general.alignment: must be u32, not %s", vtype_names[kv->type]);
  uint64_t a = kv->num.u;
  if (a == 0 || (a & (a - 1)) != 0)
    return sw_err_set(p->err, SW_ERR_PARSE, "gguf: general.alignment: %llu is not a power of two",
                      (unsigned long long)a);
  p->g->alignment = (size_t)a;
  return SW_OK;
}

static size_t align_up(size_t v, size_t a) { return (v + a - 1) & ~(a - 1); }

/* Offsets must equal the running padded sum, and every tensor must lie inside the input. */
static sw_rc place_tensors(gguf_parser_t *p) {
  sw_gguf_t *g = p->g;
  size_t a = g->alignment;
  if (p->c.pos > SIZE_MAX - a) return sw_err_set(p->err, SW_ERR_RANGE, "gguf: data section offset overflows");
  g->data_offset = align_up(p->c.pos, a);
  if (g->n_tensors == 0 && g->data_offset > g->len) g->data_offset = g->len; /* no data section needed */
  if (g->data_offset > g->len)
    return sw_err_set(p->err, SW_ERR_TRUNCATED, "gguf: padding before the data section: file ends at %zu, data "
                      "would start at %zu", g->len, g->data_offset);
  size_t avail = g->len - g->data_offset, expect = 0;
  for (size_t i = 0; i < g->n_tensors; i++) {
    sw_gguf_tensor_t *t = &g->tensors[i];
    if (expect > SIZE_MAX - a) return sw_err_set(p->err, SW_ERR_RANGE, "gguf: tensor data size overflows");
    expect = align_up(expect, a);
    if (t->offset != expect)
      return sw_err_set(p->err, SW_ERR_PARSE, "gguf: tensor %zu ('%.100s'): offset %llu, expected %zu (previous "
                        "tensor's end padded to alignment %zu)", i, t->name, (unsigned long long)t->offset, expect, a);
    if (t->nbytes > avail || expect > avail - t->nbytes)
      return sw_err_set(p->err, SW_ERR_TRUNCATED, "gguf: tensor %zu ('%.100s'): data [%zu, +%zu) extends past the "
                        "%zu bytes of the data section", i, t->name, expect, t->nbytes, avail);
    t->data = g->buf + g->data_offset + expect;
    expect += t->nbytes;
  }
  return SW_OK;
}

static sw_rc parse_header(gguf_parser_t *p, uint64_t *n_tensors, uint64_t *n_kv) {
  uint32_t magic;
  sw_rc rc = rd_u32(p, &magic, "magic");
  if (rc) return rc;
  if (magic != SW_GGUF_MAGIC)
    return sw_err_set(p->err, SW_ERR_PARSE, "gguf: magic 0x%08x is not \"GGUF\" (0x%08x)%s", magic, SW_GGUF_MAGIC,
                      magic == 0x47475546u ? " (byte-swapped)" : "");
  if ((rc = rd_u32(p, &p->g->version, "version"))) return rc;
  uint32_t v = p->g->version;
  if (v != 2 && v != 3) {
    const char *hint = v == 1 ? " (GGUFv1 used 32-bit counts; convert the file)"
                       : (v & 0xffffu) == 0 ? " (looks big-endian)" : "";
    return sw_err_set(p->err, SW_ERR_UNSUPPORTED, "gguf: version %u is not supported (2 or 3)%s", v, hint);
  }
  if ((rc = rd_u64(p, n_tensors, "tensor_count")) || (rc = rd_u64(p, n_kv, "kv_count"))) return rc;
  /* smallest tensor info: 8 (name len) + 1 (name) + 4 (n_dims) + 8 (ne) + 4 (type) + 8 (offset) = 33 bytes;
   * smallest kv: 8 (key len) + 1 (key) + 4 (type) + 1 (u8 value) = 14 bytes */
  size_t rem = sw_cursor_remain(&p->c);
  if (*n_kv > rem / 14)
    return sw_err_set(p->err, SW_ERR_RANGE, "gguf: kv_count %llu cannot fit in the %zu bytes remaining",
                      (unsigned long long)*n_kv, rem);
  if (*n_tensors > rem / 33)
    return sw_err_set(p->err, SW_ERR_RANGE, "gguf: tensor_count %llu cannot fit in the %zu bytes remaining",
                      (unsigned long long)*n_tensors, rem);
  return SW_OK;
}

sw_rc sw_gguf_parse(const void *buf, size_t len, sw_gguf_t **out, sw_err_t *err) {
  *out = NULL;
  sw_gguf_t *g = calloc(1, sizeof *g);
  if (!g) return sw_err_set(err, SW_ERR_NOMEM, "gguf: out of memory");
  g->buf = buf;
  g->len = buf ? len : 0;
  gguf_parser_t p = {.g = g, .err = err};
  sw_cursor_init(&p.c, buf, g->len);
  uint64_t n_tensors = 0, n_kv = 0;
  sw_rc rc = parse_header(&p, &n_tensors, &n_kv);
  if (!rc) {
    g->kv = calloc(n_kv ? (size_t)n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(n_tensors ? (size_t)n_tensors : 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors) rc = sw_err_set(err, SW_ERR_NOMEM, "gguf: out of memory for %llu kv, %llu tensors",
                                               (unsigned long long)n_kv, (unsigned long long)n_tensors);
  }
  if (!rc) { /* entries are zeroed, so a failure part-way can free every slot */
    g->n_kv = (size_t)n_kv;
    g->n_tensors = (size_t)n_tensors;
  }
  for (size_t i = 0; !rc && i < n_kv; i++) rc = rd_kv(&p, i, &g->kv[i]);
  if (!rc) rc = check_duplicates(&p, 1, 0);
  if (!rc) rc = read_alignment(&p);
  for (size_t i = 0; !rc && i < n_tensors; i++) rc = rd_tensor_info(&p, i, &g->tensors[i]);
  if (!rc) rc = check_duplicates(&p, 0, 1);
  if (!rc) rc = place_tensors(&p);
  if (rc) {
    sw_gguf_close(g);
    return rc;
  }
  *out = g;
  return SW_OK;
}

sw_rc sw_gguf_open(const char *path, sw_gguf_t **out, sw_err_t *err) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sw_err_set(err, SW_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return sw_err_set(err, SW_ERR_IO, "%s: not a regular file", path);
  }
  if (st.st_size == 0) {
    close(fd);
    return sw_err_set(err, SW_ERR_TRUNCATED, "%s: gguf: empty file (no magic)", path);
  }
  size_t len = (size_t)st.st_size;
  void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return sw_err_set(err, SW_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
  sw_rc rc = sw_gguf_parse(map, len, out, err);
  if (rc) {
    munmap(map, len);
    return sw_err_prefix(err, "%s", path);
  }
  (*out)->map = map;
  (*out)->map_len = len;
  return SW_OK;
}

void sw_gguf_close(sw_gguf_t *g) {
  if (!g) return;
  for (size_t i = 0; i < g->n_kv; i++) {
    free(g->kv[i].key);
    free(g->kv[i].str);
    free(g->kv[i].arr_str);
  }
  for (size_t i = 0; i < g->n_tensors; i++) free(g->tensors[i].name);
  free(g->kv);
  free(g->tensors);
  if (g->map) munmap(g->map, g->map_len);
  free(g);
}

int64_t sw_gguf_find_key(const sw_gguf_t *g, const char *key) {
  for (size_t i = 0; i < g->n_kv; i++)
    if (strcmp(g->kv[i].key, key) == 0) return (int64_t)i;
  return -1;
}

const sw_gguf_tensor_t *sw_gguf_find_tensor(const sw_gguf_t *g, const char *name) {
  for (size_t i = 0; i < g->n_tensors; i++)
    if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
  return NULL;
}

static sw_rc lookup(const sw_gguf_t *g, const char *key, const sw_gguf_kv_t **kv, sw_err_t *err) {
  int64_t i = sw_gguf_find_key(g, key);
  if (i < 0) return sw_err_set(err, SW_ERR_NOTFOUND, "gguf: key '%s' not found", key);
  *kv = &g->kv[i];
  return SW_OK;
}

static sw_rc wrong_type(const sw_gguf_kv_t *kv, const char *want, sw_err_t *err) {
  if (kv->type == SW_GGUF_ARRAY)
    return sw_err_set(err, SW_ERR_INVALID, "gguf: key '%s' is an array of %s, expected %s", kv->key,
                      vtype_names[kv->arr_type], want);
  return sw_err_set(err, SW_ERR_INVALID, "gguf: key '%s' is %s, expected %s", kv->key, vtype_names[kv->type], want);
}

/* Integer value of one raw little-endian element of type t. */
static sw_rc elem_int(sw_gguf_vtype t, const uint8_t *b, int64_t *out) {
  uint64_t u = 0;
  size_t n = vtype_sizes[t];
  for (size_t i = 0; i < n; i++) u |= (uint64_t)b[i] << (8 * i);
  switch (t) {
    case SW_GGUF_I8: *out = (int8_t)u; return SW_OK;
    case SW_GGUF_I16: *out = (int16_t)u; return SW_OK;
    case SW_GGUF_I32: *out = (int32_t)u; return SW_OK;
    case SW_GGUF_I64: memcpy(out, &u, 8); return SW_OK;
    default:
      if (u > (uint64_t)INT64_MAX) return SW_ERR_RANGE;
      *out = (int64_t)u;
      return SW_OK;
  }
}

sw_rc sw_gguf_get_int(const sw_gguf_t *g, const char *key, int64_t *out, sw_err_t *err) {
  const sw_gguf_kv_t *kv = NULL;
  sw_rc rc = lookup(g, key, &kv, err);
  if (rc) return rc;
  if (!is_int_type(kv->type) || kv->type == SW_GGUF_BOOL) return wrong_type(kv, "an integer", err);
  if (kv->type == SW_GGUF_I8 || kv->type == SW_GGUF_I16 || kv->type == SW_GGUF_I32 || kv->type == SW_GGUF_I64) {
    *out = kv->num.i;
    return SW_OK;
  }
  if (kv->num.u > (uint64_t)INT64_MAX)
    return sw_err_set(err, SW_ERR_RANGE, "gguf: key '%s': %llu does not fit int64", key,
                      (unsigned long long)kv->num.u);
  *out = (int64_t)kv->num.u;
  return SW_OK;
}

sw_rc sw_gguf_get_float(const sw_gguf_t *g, const char *key, double *out, sw_err_t *err) {
  const sw_gguf_kv_t *kv = NULL;
  sw_rc rc = lookup(g, key, &kv, err);
  if (rc) return rc;
  if (kv->type == SW_GGUF_F32 || kv->type == SW_GGUF_F64) {
    *out = kv->num.f;
    return SW_OK;
  }
  int64_t i;
  if (is_int_type(kv->type) && kv->type != SW_GGUF_BOOL && sw_gguf_get_int(g, key, &i, err) == SW_OK) {
    *out = (double)i;
    return SW_OK;
  }
  return wrong_type(kv, "a float", err);
}

sw_rc sw_gguf_get_bool(const sw_gguf_t *g, const char *key, int *out, sw_err_t *err) {
  const sw_gguf_kv_t *kv = NULL;
  sw_rc rc = lookup(g, key, &kv, err);
  if (rc) return rc;
  if (kv->type != SW_GGUF_BOOL) return wrong_type(kv, "bool", err);
  *out = (int)kv->num.i;
  return SW_OK;
}

sw_rc sw_gguf_get_str(const sw_gguf_t *g, const char *key, const char **out, size_t *len, sw_err_t *err) {
  const sw_gguf_kv_t *kv = NULL;
  sw_rc rc = lookup(g, key, &kv, err);
  if (rc) return rc;
  if (kv->type != SW_GGUF_STRING) return wrong_type(kv, "string", err);
  *out = kv->str;
  if (len) *len = kv->str_len;
  return SW_OK;
}

sw_rc sw_gguf_get_arr_str(const sw_gguf_t *g, const char *key, const sw_gguf_str_t **items, size_t *count,
                          sw_err_t *err) {
  const sw_gguf_kv_t *kv = NULL;
  sw_rc rc = lookup(g, key, &kv, err);
  if (rc) return rc;
  if (kv->type != SW_GGUF_ARRAY || kv->arr_type != SW_GGUF_STRING) return wrong_type(kv, "an array of string", err);
  *items = kv->arr_str;
  *count = (size_t)kv->arr_count;
  return SW_OK;
}

static sw_rc lookup_num_array(const sw_gguf_t *g, const char *key, int want_float, const sw_gguf_kv_t **kv,
                              sw_err_t *err) {
  sw_rc rc = lookup(g, key, kv, err);
  if (rc) return rc;
  int ok = (*kv)->type == SW_GGUF_ARRAY &&
           (want_float ? ((*kv)->arr_type == SW_GGUF_F32 || (*kv)->arr_type == SW_GGUF_F64)
                       : is_int_type((*kv)->arr_type));
  return ok ? SW_OK : wrong_type(*kv, want_float ? "an array of float" : "an array of integers", err);
}

sw_rc sw_gguf_get_arr_len(const sw_gguf_t *g, const char *key, size_t *count, sw_err_t *err) {
  const sw_gguf_kv_t *kv = NULL;
  sw_rc rc = lookup_num_array(g, key, 0, &kv, err);
  if (!rc) *count = (size_t)kv->arr_count;
  return rc;
}

sw_rc sw_gguf_get_arr_int(const sw_gguf_t *g, const char *key, int64_t *out, size_t cap, size_t *count,
                          sw_err_t *err) {
  const sw_gguf_kv_t *kv = NULL;
  sw_rc rc = lookup_num_array(g, key, 0, &kv, err);
  if (rc) return rc;
  size_t esz = vtype_sizes[kv->arr_type];
  for (size_t i = 0; i < kv->arr_count && i < cap; i++)
    if (elem_int(kv->arr_type, kv->arr_data + i * esz, &out[i]))
      return sw_err_set(err, SW_ERR_RANGE, "gguf: key '%s': element %zu does not fit int64", key, i);
  *count = (size_t)kv->arr_count;
  return SW_OK;
}

sw_rc sw_gguf_get_arr_float(const sw_gguf_t *g, const char *key, float *out, size_t cap, size_t *count,
                            sw_err_t *err) {
  const sw_gguf_kv_t *kv = NULL;
  sw_rc rc = lookup_num_array(g, key, 1, &kv, err);
  if (rc) return rc;
  for (size_t i = 0; i < kv->arr_count && i < cap; i++) {
    uint64_t u = 0;
    size_t esz = vtype_sizes[kv->arr_type];
    for (size_t b = 0; b < esz; b++) u |= (uint64_t)kv->arr_data[i * esz + b] << (8 * b);
    if (esz == 4) {
      uint32_t w = (uint32_t)u;
      memcpy(&out[i], &w, 4);
    } else {
      double d;
      memcpy(&d, &u, 8);
      out[i] = (float)d;
    }
  }
  *count = (size_t)kv->arr_count;
  return SW_OK;
}
