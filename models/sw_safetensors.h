/* sw_safetensors: a reader for untrusted safetensors files (Hugging Face checkpoints), one or several shards.
 * The file layout (the format's spec, summarised in docs/models.md §5):
 *   u64 N (little-endian) | N bytes of UTF-8 JSON header | data
 *   header: {"__metadata__": {str: str} (optional),
 *            "<tensor name>": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ...}
 *   begin/end are byte offsets relative to the start of the data; row-major, little-endian.
 * Same discipline as models/sw_gguf.c: the header length, every shape product and every offset is checked
 * against the bytes present (overflow-safe) before a pointer is taken; extents may not overlap; a failure
 * names the file and the tensor.  A set (sw_st_t) borrows its shards' mappings and owns them. */
#ifndef SW_SAFETENSORS_H
#define SW_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"
#include "common/sw_json.h"

#define SW_ST_MAX_DIMS 8
#define SW_ST_MAX_HEADER ((uint64_t)100 << 20) /* 100 MiB cap on the JSON header */
#define SW_ST_MAX_SHARDS 4096

/* Element types of the format.  Only F32, F16 and BF16 convert to f32; the others parse (so a checkpoint
 * with, say, an I64 buffer is not refused) but sw_st_to_f32 names them as unsupported. */
typedef enum sw_st_dtype {
  SW_ST_BOOL = 0, SW_ST_U8, SW_ST_I8, SW_ST_F8_E5M2, SW_ST_F8_E4M3, SW_ST_I16, SW_ST_U16, SW_ST_F16, SW_ST_BF16,
  SW_ST_I32, SW_ST_U32, SW_ST_F32, SW_ST_I64, SW_ST_U64, SW_ST_F64, SW_ST_DTYPE_COUNT
} sw_st_dtype_t;

typedef struct sw_st_tensor {
  char          *name;                  /* owned, NUL-terminated */
  sw_st_dtype_t  dtype;
  int            n_dims;                /* 0..SW_ST_MAX_DIMS (0 = scalar) */
  int64_t        shape[SW_ST_MAX_DIMS]; /* row-major: shape[n_dims-1] is contiguous */
  int64_t        n_elements;            /* product of shape */
  const uint8_t *data;                  /* borrowed from the shard's mapping or buffer */
  size_t         nbytes;                /* n_elements * dtype size */
  size_t         shard;                 /* index into sw_st_t.shards */
} sw_st_tensor_t;

typedef struct sw_st_shard {
  char          *path;     /* owned ("<memory>" for a buffer) */
  const uint8_t *buf;      /* whole file */
  size_t         len;
  void          *map;      /* owned mapping, or NULL for a borrowed buffer */
  char           sha256[65]; /* "" until sw_st_hash_shards */
} sw_st_shard_t;

typedef struct sw_st {
  size_t          n_shards;
  sw_st_shard_t  *shards;
  size_t          n_tensors;
  sw_st_tensor_t *tensors; /* sorted by name (unique across shards) */
} sw_st_t;

/* Parses one safetensors image held in memory (borrowed: must outlive the set).  Errors: SW_ERR_TRUNCATED,
 * SW_ERR_PARSE, SW_ERR_RANGE, SW_ERR_NOMEM with "safetensors: <what>" naming the tensor/field; *out NULL. */
sw_rc sw_st_parse(const void *buf, size_t len, sw_st_t **out, sw_err_t *err);
/* Opens the checkpoint shards of directory dir: the files named by model.safetensors.index.json's weight_map
 * when it exists (each of its tensors must be in the shard it names), else every "*.safetensors" file in dir;
 * shards[] is in file-name (strcmp) order.  Each file is mapped and parsed (not hashed: sw_st_hash_shards);
 * a tensor name in two shards is an
 * error.  Messages start with the offending file's path. */
sw_rc sw_st_open_dir(const char *dir, sw_st_t **out, sw_err_t *err);
/* Fills every shard's sha256 (reads every byte: seconds for a large checkpoint). */
void  sw_st_hash_shards(sw_st_t *st);
void  sw_st_close(sw_st_t *st);

/* Tensor by exact name, or NULL. */
const sw_st_tensor_t *sw_st_find(const sw_st_t *st, const char *name);
/* "F32", "BF16", ... */
const char *sw_st_dtype_name(sw_st_dtype_t t);
/* Converts a tensor's n_elements values to f32 in dst (F32 copied, F16/BF16 widened exactly).
 * SW_ERR_UNSUPPORTED naming the tensor, its dtype and its file for any other dtype. */
sw_rc sw_st_to_f32(const sw_st_t *st, const sw_st_tensor_t *t, float *dst, sw_err_t *err);

/* Reads and parses a JSON file of at most cap bytes (config.json, tokenizer.json, the shard index);
 * sha256 (65 bytes, may be NULL) receives the file's hash.  Errors name the file. */
sw_rc sw_st_read_json(const char *path, size_t cap, sw_json_t **out, char *sha256, sw_err_t *err);

#endif
