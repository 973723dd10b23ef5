/* sw_gguf: a GGUF (v2/v3) reader for untrusted files.  The file layout (ggml docs/gguf.md):
 *   u32 magic "GGUF" | u32 version | u64 tensor_count | u64 kv_count
 *   kv[kv_count]: string key, u32 value_type, value     (string = u64 len + bytes, no NUL)
 *   tensor_info[tensor_count]: string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset
 *   padding to general.alignment (u32, power of two, default 32), then the tensor data.
 * Every count, length, size and offset is checked against the bytes remaining before use (common/sw_cursor.h);
 * any violation fails the whole parse with a message naming the field.  The parsed context borrows the
 * input buffer (a memory buffer, or the file mapping owned by the context for sw_gguf_open). */
#ifndef SW_GGUF_H
#define SW_GGUF_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"
#include "models/sw_types.h"

#define SW_GGUF_MAGIC 0x46554747u          /* bytes "GGUF" read little-endian */
#define SW_GGUF_MAX_DIMS 4
#define SW_GGUF_DEFAULT_ALIGNMENT 32
#define SW_GGUF_MAX_STRING ((uint64_t)1 << 30) /* 1 GiB cap on any string */
#define SW_GGUF_MAX_KEY 65535                  /* cap on key and tensor-name length, bytes */
#define SW_GGUF_MAX_ARRAY_DEPTH 4              /* nested arrays deeper than this are rejected */

/* Metadata value types (explicit values from the spec, never reused). */
typedef enum sw_gguf_vtype {
  SW_GGUF_U8 = 0,
  SW_GGUF_I8 = 1,
  SW_GGUF_U16 = 2,
  SW_GGUF_I16 = 3,
  SW_GGUF_U32 = 4,
  SW_GGUF_I32 = 5,
  SW_GGUF_F32 = 6,
  SW_GGUF_BOOL = 7,
  SW_GGUF_STRING = 8,
  SW_GGUF_ARRAY = 9,
  SW_GGUF_U64 = 10,
  SW_GGUF_I64 = 11,
  SW_GGUF_F64 = 12,
  SW_GGUF_VTYPE_COUNT = 13
} sw_gguf_vtype;

/* A string view: ptr is borrowed from the input buffer (not NUL-terminated) unless stated otherwise. */
typedef struct sw_gguf_str {
  const char *ptr; /* first byte */
  size_t      len; /* bytes */
} sw_gguf_str_t;

/* One metadata entry. */
typedef struct sw_gguf_kv {
  char         *key;       /* owned, NUL-terminated, non-empty, unique in the file */
  sw_gguf_vtype type;      /* value type */
  union {
    uint64_t u;            /* U8/U16/U32/U64 */
    int64_t  i;            /* I8/I16/I32/I64, BOOL (0/1) */
    double   f;            /* F32/F64 */
  } num;
  char         *str;       /* STRING: owned NUL-terminated copy (may hold interior NULs; see str_len) */
  size_t        str_len;   /* STRING: bytes */
  sw_gguf_vtype arr_type;  /* ARRAY: element type */
  uint64_t      arr_count; /* ARRAY: number of elements */
  const uint8_t *arr_data; /* ARRAY of numbers/bools: raw little-endian elements, borrowed, unaligned */
  sw_gguf_str_t *arr_str;  /* ARRAY of strings: arr_count views into the input buffer, owned array */
} sw_gguf_kv_t;

/* One tensor.  ne[i] counts elements along dimension i (ne[0] contiguous; unused dims are 1).
 * nb[i] is the byte stride of dimension i: nb[0] = type_size, nb[1] = nb[0]*(ne[0]/block_size),
 * nb[i] = nb[i-1]*ne[i-1] for i >= 2. */
typedef struct sw_gguf_tensor {
  char          *name;                  /* owned, NUL-terminated, non-empty, unique */
  uint32_t       n_dims;                /* 1..SW_GGUF_MAX_DIMS */
  int64_t        ne[SW_GGUF_MAX_DIMS];  /* elements per dimension */
  size_t         nb[SW_GGUF_MAX_DIMS];  /* byte strides */
  uint32_t       type;                  /* ggml type id (sw_type), always a known id */
  uint64_t       offset;                /* bytes from the start of the data section */
  size_t         nbytes;                /* total bytes of data */
  int64_t        n_elements;            /* product of ne */
  const uint8_t *data;                  /* borrowed: start of the tensor's bytes */
} sw_gguf_tensor_t;

typedef struct sw_gguf {
  uint32_t          version;      /* 2 or 3 */
  size_t            alignment;    /* data alignment in bytes (power of two) */
  size_t            n_kv;         /* entries in kv */
  sw_gguf_kv_t     *kv;           /* kv[n_kv], in file order */
  size_t            n_tensors;    /* entries in tensors */
  sw_gguf_tensor_t *tensors;      /* tensors[n_tensors], in file order */
  size_t            data_offset;  /* byte offset of the data section in the buffer */
  const uint8_t    *buf;          /* the whole input (borrowed, or the mapping below) */
  size_t            len;          /* its length */
  void             *map;          /* mmap base when opened from a file, else NULL (owned) */
  size_t            map_len;      /* mapping length */
} sw_gguf_t;

/* Parses a GGUF image held in memory.  The buffer must outlive the returned context (views point into it).
 * On failure returns SW_ERR_PARSE / SW_ERR_TRUNCATED / SW_ERR_RANGE / SW_ERR_UNSUPPORTED / SW_ERR_NOMEM
 * with a message naming the field ("gguf: kv 3 ('general.alignment'): ..."), and *out stays NULL.
 * The caller frees the context with sw_gguf_close(). */
sw_rc sw_gguf_parse(const void *buf, size_t len, sw_gguf_t **out, sw_err_t *err);
/* Maps a file read-only and parses it; the context owns the mapping.  Messages are prefixed with the path. */
sw_rc sw_gguf_open(const char *path, sw_gguf_t **out, sw_err_t *err);
/* Frees a context (and its mapping). NULL is a no-op. */
void sw_gguf_close(sw_gguf_t *g);

/* Index of a key, or -1. */
int64_t sw_gguf_find_key(const sw_gguf_t *g, const char *key);
/* Tensor by name, or NULL. */
const sw_gguf_tensor_t *sw_gguf_find_tensor(const sw_gguf_t *g, const char *name);

/* Typed getters.  Each returns SW_ERR_NOTFOUND ("gguf: key 'x' not found") when the key is absent and
 * SW_ERR_INVALID naming the key and both types when the stored type does not fit. */
/* Any integer type (u8..u64, i8..i64); u64 values above INT64_MAX are SW_ERR_RANGE. */
sw_rc sw_gguf_get_int(const sw_gguf_t *g, const char *key, int64_t *out, sw_err_t *err);
/* f32 or f64 (integers are also accepted and converted). */
sw_rc sw_gguf_get_float(const sw_gguf_t *g, const char *key, double *out, sw_err_t *err);
sw_rc sw_gguf_get_bool(const sw_gguf_t *g, const char *key, int *out, sw_err_t *err);
/* STRING: *out is borrowed from the context (NUL-terminated), *len may be NULL. */
sw_rc sw_gguf_get_str(const sw_gguf_t *g, const char *key, const char **out, size_t *len, sw_err_t *err);
/* ARRAY of STRING: *items (count views, borrowed from the context) and *count. */
sw_rc sw_gguf_get_arr_str(const sw_gguf_t *g, const char *key, const sw_gguf_str_t **items, size_t *count,
                          sw_err_t *err);
/* ARRAY of any integer type (or bool): count of elements, without copying. */
sw_rc sw_gguf_get_arr_len(const sw_gguf_t *g, const char *key, size_t *count, sw_err_t *err);
/* ARRAY of any integer type (or bool): copies min(count, cap) elements into out as int64 and sets *count
 * to the array length.  u64 elements above INT64_MAX are SW_ERR_RANGE. */
sw_rc sw_gguf_get_arr_int(const sw_gguf_t *g, const char *key, int64_t *out, size_t cap, size_t *count,
                          sw_err_t *err);
/* ARRAY of f32 or f64: copies min(count, cap) elements into out and sets *count to the array length. */
sw_rc sw_gguf_get_arr_float(const sw_gguf_t *g, const char *key, float *out, size_t cap, size_t *count,
                            sw_err_t *err);
/* Name of a value type ("u32", "array", ...), "unknown" when out of range. */
const char *sw_gguf_vtype_name(uint32_t t);

#endif
