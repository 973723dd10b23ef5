/* sw_types: the tensor element types of GGUF/ggml (ids from ggml's enum ggml_type, never reused) and one
 * type-traits table giving each type's name, block size and block byte size, the only place sizes come
 * from.  Dequantisation to f32 exists for F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K,
 * Q5_K and Q6_K (block layouts: ggml/src/ggml-common.h, described in docs/models.md §2 and models/README.md);
 * every other type (the IQ*, TQ*, MXFP4 families, Q8_1/Q8_K, integers) is reported as unsupported. */
#ifndef SW_TYPES_H
#define SW_TYPES_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"

typedef enum sw_type {
  SW_TYPE_F32 = 0,
  SW_TYPE_F16 = 1,
  SW_TYPE_Q4_0 = 2,
  SW_TYPE_Q4_1 = 3,
  /* 4 (Q4_2) and 5 (Q4_3) were removed from ggml; never reuse them. */
  SW_TYPE_Q5_0 = 6,
  SW_TYPE_Q5_1 = 7,
  SW_TYPE_Q8_0 = 8,
  SW_TYPE_Q8_1 = 9,
  SW_TYPE_Q2_K = 10,
  SW_TYPE_Q3_K = 11,
  SW_TYPE_Q4_K = 12,
  SW_TYPE_Q5_K = 13,
  SW_TYPE_Q6_K = 14,
  SW_TYPE_Q8_K = 15,
  SW_TYPE_IQ2_XXS = 16,
  SW_TYPE_IQ2_XS = 17,
  SW_TYPE_IQ3_XXS = 18,
  SW_TYPE_IQ1_S = 19,
  SW_TYPE_IQ4_NL = 20,
  SW_TYPE_IQ3_S = 21,
  SW_TYPE_IQ2_S = 22,
  SW_TYPE_IQ4_XS = 23,
  SW_TYPE_I8 = 24,
  SW_TYPE_I16 = 25,
  SW_TYPE_I32 = 26,
  SW_TYPE_I64 = 27,
  SW_TYPE_F64 = 28,
  SW_TYPE_IQ1_M = 29,
  SW_TYPE_BF16 = 30,
  /* 31..33 (Q4_0_4_4, Q4_0_4_8, Q4_0_8_8) were removed from ggml. */
  SW_TYPE_TQ1_0 = 34,
  SW_TYPE_TQ2_0 = 35,
  /* 36..38 (IQ4_NL_4_4, _4_8, _8_8) were removed from ggml. */
  SW_TYPE_MXFP4 = 39,
  SW_TYPE_NVFP4 = 40,
  SW_TYPE_Q1_0 = 41,
  SW_TYPE_COUNT = 42
} sw_type;

/* Converts n elements (a multiple of the block size) of src to f32. src holds n/block_size blocks. */
typedef void (*sw_dequant_fn)(float *y, const uint8_t *src, size_t n);

typedef struct sw_type_traits {
  const char   *name;         /* "q4_1"; NULL for ids that are unused */
  size_t        block_size;   /* elements per block (1 for plain types); 0 for unused ids */
  size_t        type_size;    /* bytes per block */
  int           is_quantized; /* 1 for block-quantised types */
  sw_dequant_fn to_f32;       /* NULL when sparsweep cannot dequantise this type */
} sw_type_traits_t;

/* Traits of a type id, or NULL when the id is out of range or unused. */
const sw_type_traits_t *sw_type_traits_get(uint32_t type);
/* Name of a type id ("q6_k"), or "unknown" for an unused id. Never NULL. */
const char *sw_type_name(uint32_t type);
/* Bytes taken by n elements of a type; 0 when n is not a multiple of the block size, the id is unused,
 * or the size overflows size_t. */
size_t sw_type_row_bytes(uint32_t type, uint64_t n);
/* Dequantises n elements of src (of the given type) into y.  SW_ERR_UNSUPPORTED naming the tensor and
 * the type when the type has no dequantiser; SW_ERR_INVALID when n is not a whole number of blocks.
 * tensor_name is used only for the message (may be NULL). */
sw_rc sw_dequant(float *y, const void *src, size_t n, uint32_t type, const char *tensor_name, sw_err_t *err);

/* sw_dequant for a tensor whose data is src_bytes long: SW_ERR_INVALID naming the tensor when src_bytes is
 * not exactly the size of n elements' blocks (a truncated or padded tensor is refused, never read past), and
 * SW_ERR_PARSE naming the tensor and the element when a value comes out inf or NaN (a corrupt scale or value:
 * loaded, it would only show up as a NaN perplexity much later). */
sw_rc sw_dequant_bytes(float *y, const void *src, size_t src_bytes, size_t n, uint32_t type, const char *tensor_name,
                       sw_err_t *err);

/* IEEE 754 binary16 bits to float (exact, including subnormals, inf and NaN). */
float sw_f16_to_f32(uint16_t h);
/* bfloat16 bits to float (the top 16 bits of the f32). */
float sw_bf16_bits_to_f32(uint16_t h);

#endif
