/* sw_simd: table lookup of the SIMD variants (kernels/sw_simd.h). */
#include "kernels/sw_simd.h"

const sw_simd_t *sw_simd_get(sw_isa_t isa) {
#if defined(__x86_64__)
  if (isa == SW_ISA_AVX512) return &sw_simd_avx512;
  if (isa == SW_ISA_AVX2) return &sw_simd_avx2;
#else
  (void)isa;
#endif
  return &sw_simd_portable;
}
