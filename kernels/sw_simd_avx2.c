/* sw_simd_avx2: the AVX2+FMA kernel variant, the bodies of kernels/sw_simd_vec.h compiled with a per-function
 * target attribute (the rest of the binary stays baseline x86-64; kernels/CMakeLists.txt lets this file contract
 * a*b+c into FMA).  Empty off x86-64. */
#if defined(__x86_64__)
#define SW_V_LANES 8
#define SW_V_ATTR __attribute__((target("avx2,fma")))
#define SW_V_TABLE sw_simd_avx2
#define SW_V_ISA SW_ISA_AVX2
#include <immintrin.h>
/* vpmovzxwd + vpslld: 8 bf16 values to f32 */
#define SW_V_WIDEN_BF16(p) \
  ((sw_vf)_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))), 16))
#include "kernels/sw_simd_vec.h"
#else
typedef int sw_simd_avx2_empty_t;
#endif
