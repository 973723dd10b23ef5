/* sw_types: the type-traits table and the dequantisers for F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and
 * the K-quants Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.  Block layouts follow ggml/src/ggml-common.h (block_q4_0 ...
 * block_q6_K); the formulas are the ones in docs/models.md §2 and models/README.md.  Reads of block fields
 * are byte-wise little-endian.  Every product is evaluated in f32 in the order written (this file is built
 * with -ffp-contract=off, models/CMakeLists.txt), so the values equal those of the `gguf` Python package's
 * f32 dequantisers bit for bit (tests/unit/test_kquant.c). */
#include "models/sw_types.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static uint16_t rd_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

float sw_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t frac = h & 0x3ff;
  if (exp == 0) {
    /* zero or subnormal: frac * 2^-24 (exact in f32) */
    float v = (float)frac * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  uint32_t bits = exp == 31 ? (sign | 0x7f800000u | (frac << 13)) : (sign | ((exp + 112) << 23) | (frac << 13));
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

float sw_bf16_bits_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static void dq_f32(float *y, const uint8_t *src, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint32_t bits = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 | (uint32_t)src[4 * i + 2] << 16 |
                    (uint32_t)src[4 * i + 3] << 24;
    memcpy(&y[i], &bits, sizeof bits);
  }
}

static void dq_f16(float *y, const uint8_t *src, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = sw_f16_to_f32(rd_u16(src + 2 * i));
}

static void dq_bf16(float *y, const uint8_t *src, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = sw_bf16_bits_to_f32(rd_u16(src + 2 * i));
}

/* block_q8_0 {f16 d; int8 qs[32]}: y = qs * d */
static void dq_q8_0(float *y, const uint8_t *src, size_t n) {
  for (size_t b = 0; b < n / 32; b++, src += 34, y += 32) {
    float d = sw_f16_to_f32(rd_u16(src));
    for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)src[2 + j] * d;
  }
}

/* block_q4_0 {f16 d; u8 qs[16]}: low nibbles are elements 0..15, high nibbles 16..31, value (q-8)*d */
static void dq_q4_0(float *y, const uint8_t *src, size_t n) {
  for (size_t b = 0; b < n / 32; b++, src += 18, y += 32) {
    float d = sw_f16_to_f32(rd_u16(src));
    for (int j = 0; j < 16; j++) {
      y[j] = (float)((src[2 + j] & 15) - 8) * d;
      y[j + 16] = (float)((src[2 + j] >> 4) - 8) * d;
    }
  }
}

/* block_q4_1 {f16 d; f16 m; u8 qs[16]}: value q*d + m with unsigned nibbles */
static void dq_q4_1(float *y, const uint8_t *src, size_t n) {
  for (size_t b = 0; b < n / 32; b++, src += 20, y += 32) {
    float d = sw_f16_to_f32(rd_u16(src));
    float m = sw_f16_to_f32(rd_u16(src + 2));
    for (int j = 0; j < 16; j++) {
      y[j] = (float)(src[4 + j] & 15) * d + m;
      y[j + 16] = (float)(src[4 + j] >> 4) * d + m;
    }
  }
}

static uint32_t rd_u32le(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The 5-bit quant of element j of a Q5 block: nibble j of qs (low nibbles 0..15, high 16..31) plus bit j of
 * the little-endian u32 qh as bit 4. */
static int q5_quant(const uint8_t *qs, uint32_t qh, int j) {
  int nib = j < 16 ? (qs[j] & 15) : (qs[j - 16] >> 4);
  return nib | (int)((qh >> j) & 1u) << 4;
}

/* block_q5_0 {f16 d; u8 qh[4]; u8 qs[16]}: value (q-16)*d */
static void dq_q5_0(float *y, const uint8_t *src, size_t n) {
  for (size_t b = 0; b < n / 32; b++, src += 22, y += 32) {
    float d = sw_f16_to_f32(rd_u16(src));
    uint32_t qh = rd_u32le(src + 2);
    for (int j = 0; j < 32; j++) y[j] = d * (float)(q5_quant(src + 6, qh, j) - 16);
  }
}

/* block_q5_1 {f16 d; f16 m; u8 qh[4]; u8 qs[16]}: value q*d + m */
static void dq_q5_1(float *y, const uint8_t *src, size_t n) {
  for (size_t b = 0; b < n / 32; b++, src += 24, y += 32) {
    float d = sw_f16_to_f32(rd_u16(src)), m = sw_f16_to_f32(rd_u16(src + 2));
    uint32_t qh = rd_u32le(src + 4);
    for (int j = 0; j < 32; j++) y[j] = d * (float)q5_quant(src + 8, qh, j) + m;
  }
}

/* block_q2_K {u8 scales[16]; u8 qs[64]; f16 d; f16 dmin}: 16 groups of 16; group g = 8*half + 2*s + (l >= 16)
 * takes bits 2s..2s+1 of qs[32*half + l] for l in 0..31; scale byte g: low nibble times d, high nibble times
 * dmin subtracted. */
static void dq_q2_k(float *y, const uint8_t *src, size_t n) {
  for (size_t b = 0; b < n / 256; b++, src += 84) {
    const uint8_t *sc = src, *qs = src + 16;
    float d = sw_f16_to_f32(rd_u16(src + 80)), dmin = sw_f16_to_f32(rd_u16(src + 82));
    for (int half = 0; half < 2; half++)
      for (int s = 0; s < 4; s++)
        for (int l = 0; l < 32; l++, y++) {
          int g = 8 * half + 2 * s + (l >= 16);
          float dl = d * (float)(sc[g] & 15), ml = dmin * (float)(sc[g] >> 4);
          *y = dl * (float)((qs[32 * half + l] >> (2 * s)) & 3) - ml;
        }
  }
}

/* Q3_K's 16 signed 6-bit scales from 12 bytes: low nibble from byte i%8 (>> 4 for i >= 8), high two bits from
 * byte 8 + i%4 at bit 2*(i/4); minus 32. */
static void q3_k_scales(const uint8_t *p, int out[16]) {
  for (int i = 0; i < 16; i++) {
    int lo = i < 8 ? (p[i] & 15) : (p[i - 8] >> 4);
    int hi = (p[8 + i % 4] >> (2 * (i / 4))) & 3;
    out[i] = (lo | hi << 4) - 32;
  }
}

/* block_q3_K {u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d}: element e = 128*half + 32*s + l holds bits
 * 2s..2s+1 of qs[32*half + l], minus 4 when bit e/32 of hmask[l] is clear; times d*scale[e/16]. */
static void dq_q3_k(float *y, const uint8_t *src, size_t n) {
  for (size_t b = 0; b < n / 256; b++, src += 110, y += 256) {
    const uint8_t *hm = src, *qs = src + 32;
    int sc[16];
    q3_k_scales(src + 96, sc);
    float d = sw_f16_to_f32(rd_u16(src + 108));
    for (int e = 0; e < 256; e++) {
      int half = e / 128, s = (e / 32) % 4, l = e % 32;
      int q = ((qs[32 * half + l] >> (2 * s)) & 3) - (((hm[l] >> (e / 32)) & 1) ? 0 : 4);
      float dl = d * (float)sc[e / 16];
      y[e] = dl * (float)q;
    }
  }
}

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block from its 12 scale bytes. */
static void k4_scale_min(const uint8_t *p, int j, int *sc, int *m) {
  if (j < 4) {
    *sc = p[j] & 63;
    *m = p[j + 4] & 63;
  } else {
    *sc = (p[j + 4] & 15) | (p[j - 4] >> 6) << 4;
    *m = (p[j + 4] >> 4) | (p[j] >> 6) << 4;
  }
}

/* Shared body of Q4_K and Q5_K: 8 sub-blocks of 32; sub-block g = 2*c + h takes nibble h of qs[32*c + l]
 * (plus bit g of qh[l] as bit 4 when qh is given); value d*sc*q - dmin*m. */
static void dq_k45_block(float *y, float d, float dmin, const uint8_t *scales, const uint8_t *qh, const uint8_t *qs) {
  for (int g = 0; g < 8; g++) {
    int sc, m;
    k4_scale_min(scales, g, &sc, &m);
    float dl = d * (float)sc, ml = dmin * (float)m;
    for (int l = 0; l < 32; l++) {
      int q = (qs[32 * (g / 2) + l] >> (4 * (g % 2))) & 15;
      if (qh) q |= ((qh[l] >> g) & 1) << 4;
      y[32 * g + l] = dl * (float)q - ml;
    }
  }
}

/* block_q4_K {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]} */
static void dq_q4_k(float *y, const uint8_t *src, size_t n) {
  for (size_t b = 0; b < n / 256; b++, src += 144, y += 256)
    dq_k45_block(y, sw_f16_to_f32(rd_u16(src)), sw_f16_to_f32(rd_u16(src + 2)), src + 4, NULL, src + 16);
}

/* block_q5_K {f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]} */
static void dq_q5_k(float *y, const uint8_t *src, size_t n) {
  for (size_t b = 0; b < n / 256; b++, src += 176, y += 256)
    dq_k45_block(y, sw_f16_to_f32(rd_u16(src)), sw_f16_to_f32(rd_u16(src + 2)), src + 4, src + 16, src + 48);
}

/* block_q6_K {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}: 256 elements in two halves of 128 */
static void dq_q6_k(float *y, const uint8_t *src, size_t n) {
  for (size_t b = 0; b < n / 256; b++, src += 210) {
    const uint8_t *ql = src, *qh = src + 128;
    const int8_t *sc = (const int8_t *)(src + 192);
    float d = sw_f16_to_f32(rd_u16(src + 208));
    for (int half = 0; half < 2; half++, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; l++) {
        int is = l / 16;
        int q1 = (int)((ql[l] & 15) | ((qh[l] >> 0) & 3) << 4) - 32;
        int q2 = (int)((ql[l + 32] & 15) | ((qh[l] >> 2) & 3) << 4) - 32;
        int q3 = (int)((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
        int q4 = (int)((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
        y[l] = d * (float)sc[is] * (float)q1;
        y[l + 32] = d * (float)sc[is + 2] * (float)q2;
        y[l + 64] = d * (float)sc[is + 4] * (float)q3;
        y[l + 96] = d * (float)sc[is + 6] * (float)q4;
      }
    }
  }
}

/* Block sizes and byte sizes from ggml's type_traits (ggml/src/ggml.c) and block structs (ggml-common.h). */
static const sw_type_traits_t sw_type_traits[SW_TYPE_COUNT] = {
    [SW_TYPE_F32] = {.name = "f32", .block_size = 1, .type_size = 4, .is_quantized = 0, .to_f32 = dq_f32},
    [SW_TYPE_F16] = {.name = "f16", .block_size = 1, .type_size = 2, .is_quantized = 0, .to_f32 = dq_f16},
    [SW_TYPE_Q4_0] = {.name = "q4_0", .block_size = 32, .type_size = 18, .is_quantized = 1, .to_f32 = dq_q4_0},
    [SW_TYPE_Q4_1] = {.name = "q4_1", .block_size = 32, .type_size = 20, .is_quantized = 1, .to_f32 = dq_q4_1},
    [SW_TYPE_Q5_0] = {.name = "q5_0", .block_size = 32, .type_size = 22, .is_quantized = 1, .to_f32 = dq_q5_0},
    [SW_TYPE_Q5_1] = {.name = "q5_1", .block_size = 32, .type_size = 24, .is_quantized = 1, .to_f32 = dq_q5_1},
    [SW_TYPE_Q8_0] = {.name = "q8_0", .block_size = 32, .type_size = 34, .is_quantized = 1, .to_f32 = dq_q8_0},
    [SW_TYPE_Q8_1] = {.name = "q8_1", .block_size = 32, .type_size = 36, .is_quantized = 1, .to_f32 = NULL},
    [SW_TYPE_Q2_K] = {.name = "q2_k", .block_size = 256, .type_size = 84, .is_quantized = 1, .to_f32 = dq_q2_k},
    [SW_TYPE_Q3_K] = {.name = "q3_k", .block_size = 256, .type_size = 110, .is_quantized = 1, .to_f32 = dq_q3_k},
    [SW_TYPE_Q4_K] = {.name = "q4_k", .block_size = 256, .type_size = 144, .is_quantized = 1, .to_f32 = dq_q4_k},
    [SW_TYPE_Q5_K] = {.name = "q5_k", .block_size = 256, .type_size = 176, .is_quantized = 1, .to_f32 = dq_q5_k},
    [SW_TYPE_Q6_K] = {.name = "q6_k", .block_size = 256, .type_size = 210, .is_quantized = 1, .to_f32 = dq_q6_k},
    [SW_TYPE_Q8_K] = {.name = "q8_k", .block_size = 256, .type_size = 292, .is_quantized = 1, .to_f32 = NULL},
    [SW_TYPE_IQ2_XXS] = {.name = "iq2_xxs", .block_size = 256, .type_size = 66, .is_quantized = 1, .to_f32 = NULL},
    [SW_TYPE_IQ2_XS] = {.name = "iq2_xs", .block_size = 256, .type_size = 74, .is_quantized = 1, .to_f32 = NULL},
    [SW_TYPE_IQ3_XXS] = {.name = "iq3_xxs", .block_size = 256, .type_size = 98, .is_quantized = 1, .to_f32 = NULL},
    [SW_TYPE_IQ1_S] = {.name = "iq1_s", .block_size = 256, .type_size = 50, .is_quantized = 1, .to_f32 = NULL},
    [SW_TYPE_IQ4_NL] = {.name = "iq4_nl", .block_size = 32, .type_size = 18, .is_quantized = 1, .to_f32 = NULL},
    [SW_TYPE_IQ3_S] = {.name = "iq3_s", .block_size = 256, .type_size = 110, .is_quantized = 1, .to_f32 = NULL},
    [SW_TYPE_IQ2_S] = {.name = "iq2_s", .block_size = 256, .type_size = 82, .is_quantized = 1, .to_f32 = NULL},
    [SW_TYPE_IQ4_XS] = {.name = "iq4_xs", .block_size = 256, .type_size = 136, .is_quantized = 1, .to_f32 = NULL},
    [SW_TYPE_I8] = {.name = "i8", .block_size = 1, .type_size = 1, .is_quantized = 0, .to_f32 = NULL},
    [SW_TYPE_I16] = {.name = "i16", .block_size = 1, .type_size = 2, .is_quantized = 0, .to_f32 = NULL},
    [SW_TYPE_I32] = {.name = "i32", .block_size = 1, .type_size = 4, .is_quantized = 0, .to_f32 = NULL},
    [SW_TYPE_I64] = {.name = "i64", .block_size = 1, .type_size = 8, .is_quantized = 0, .to_f32 = NULL},
    [SW_TYPE_F64] = {.name = "f64", .block_size = 1, .type_size = 8, .is_quantized = 0, .to_f32 = NULL},
    [SW_TYPE_IQ1_M] = {.name = "iq1_m", .block_size = 256, .type_size = 56, .is_quantized = 1, .to_f32 = NULL},
    [SW_TYPE_BF16] = {.name = "bf16", .block_size = 1, .type_size = 2, .is_quantized = 0, .to_f32 = dq_bf16},
    [SW_TYPE_TQ1_0] = {.name = "tq1_0", .block_size = 256, .type_size = 54, .is_quantized = 1, .to_f32 = NULL},
    [SW_TYPE_TQ2_0] = {.name = "tq2_0", .block_size = 256, .type_size = 66, .is_quantized = 1, .to_f32 = NULL},
    [SW_TYPE_MXFP4] = {.name = "mxfp4", .block_size = 32, .type_size = 17, .is_quantized = 1, .to_f32 = NULL},
    [SW_TYPE_NVFP4] = {.name = "nvfp4", .block_size = 64, .type_size = 36, .is_quantized = 1, .to_f32 = NULL},
    [SW_TYPE_Q1_0] = {.name = "q1_0", .block_size = 128, .type_size = 18, .is_quantized = 1, .to_f32 = NULL},
};

const sw_type_traits_t *sw_type_traits_get(uint32_t type) {
  if (type >= SW_TYPE_COUNT || sw_type_traits[type].block_size == 0) return NULL;
  return &sw_type_traits[type];
}

const char *sw_type_name(uint32_t type) {
  const sw_type_traits_t *t = sw_type_traits_get(type);
  return t ? t->name : "unknown";
}

size_t sw_type_row_bytes(uint32_t type, uint64_t n) {
  const sw_type_traits_t *t = sw_type_traits_get(type);
  if (!t || n % t->block_size != 0) return 0;
  uint64_t blocks = n / t->block_size;
  if (blocks > SIZE_MAX / t->type_size) return 0;
  return (size_t)blocks * t->type_size;
}

/* "f32, f16, ..." : the names of every type with a dequantiser, in id order. */
static void supported_names(char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (uint32_t id = 0; id < SW_TYPE_COUNT && used < len; id++) {
    if (!sw_type_traits[id].to_f32) continue;
    int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", sw_type_traits[id].name);
    if (w < 0) break;
    used += (size_t)w;
  }
}

sw_rc sw_dequant(float *y, const void *src, size_t n, uint32_t type, const char *tensor_name, sw_err_t *err) {
  const char *tn = tensor_name ? tensor_name : "(unnamed)";
  const sw_type_traits_t *t = sw_type_traits_get(type);
  if (!t || !t->to_f32) {
    char names[256];
    supported_names(names, sizeof names);
    return sw_err_set(err, SW_ERR_UNSUPPORTED, "tensor '%s': type %s (id %u) cannot be dequantised (supported: %s)",
                      tn, sw_type_name(type), type, names);
  }
  if (n % t->block_size != 0)
    return sw_err_set(err, SW_ERR_INVALID, "tensor '%s': %zu elements is not a whole number of %s blocks of %zu",
                      tn, n, t->name, t->block_size);
  t->to_f32(y, src, n);
  return SW_OK;
}

sw_rc sw_dequant_bytes(float *y, const void *src, size_t src_bytes, size_t n, uint32_t type, const char *tensor_name,
                       sw_err_t *err) {
  const sw_type_traits_t *t = sw_type_traits_get(type);
  size_t need = sw_type_row_bytes(type, n);
  if (t && n % t->block_size == 0 && need != src_bytes)
    return sw_err_set(err, SW_ERR_INVALID,
                      "tensor '%s': %zu bytes of %s data, but %zu elements in blocks of %zu take %zu bytes",
                      tensor_name ? tensor_name : "(unnamed)", src_bytes, t->name, n, t->block_size, need);
  sw_rc rc = sw_dequant(y, src, n, type, tensor_name, err);
  for (size_t i = 0; rc == SW_OK && i < n; i++) /* an inf or NaN scale or value: corrupt, not a weight */
    if (!isfinite(y[i]))
      return sw_err_set(err, SW_ERR_PARSE, "tensor '%s': element %zu is %g, not a finite number (corrupt file?)",
                        tensor_name ? tensor_name : "(unnamed)", i, (double)y[i]);
  return rc;
}
