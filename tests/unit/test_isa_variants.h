/* Per-SIMD-variant kernel tests (include after cmocka.h): a test registered with KT_VARIANT(f) runs once per
 * level of kernels/sw_isa.h ("f/portable", "f/avx2", "f/avx512") with a pointer to its sw_isa_t as cmocka state;
 * kt_variant(state) returns the level, or reports the test skipped (never passed) when this CPU cannot run it. */
#ifndef TEST_ISA_VARIANTS_H
#define TEST_ISA_VARIANTS_H
#include "kernels/sw_isa.h"

static const sw_isa_t kt_levels[SW_ISA_COUNT] = {SW_ISA_PORTABLE, SW_ISA_AVX2, SW_ISA_AVX512};

static inline sw_isa_t kt_variant(void **state) {
  sw_isa_t isa = *(const sw_isa_t *)*state;
  if (!sw_isa_supported(isa)) {
    print_message("variant %s skipped: this CPU (or build target) cannot run it\n", sw_isa_name(isa));
    skip();
  }
  return isa;
}

#define KT_ONE_VARIANT(f, level, name) {#f "/" name, f, NULL, NULL, (void *)&kt_levels[level]}
#define KT_VARIANT(f)                                                                                  \
  KT_ONE_VARIANT(f, SW_ISA_PORTABLE, "portable"), KT_ONE_VARIANT(f, SW_ISA_AVX2, "avx2"),            \
      KT_ONE_VARIANT(f, SW_ISA_AVX512, "avx512")
#endif
