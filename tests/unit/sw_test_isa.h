/* sw_test_isa: one cmocka test per SIMD variant (kernels/sw_isa.h), named fn/VARIANT, the variant passed in the
 * test's state; a variant this CPU cannot run is reported skipped by name.  Include after <cmocka.h>. */
#ifndef SW_TEST_ISA_H
#define SW_TEST_ISA_H
#include <stdint.h>

#include "kernels/sw_isa.h"

#define SW_TEST_ISA(fn, isa) {#fn "/" #isa, fn, NULL, NULL, (void *)(intptr_t)SW_ISA_##isa}
#define SW_TEST_ISAS(fn) SW_TEST_ISA(fn, PORTABLE), SW_TEST_ISA(fn, AVX2), SW_TEST_ISA(fn, AVX512)

/* The variant of an SW_TEST_ISA test; skips the test when this CPU cannot run it. */
static inline sw_isa_t sw_test_isa(void **state) {
  const sw_isa_t isa = (sw_isa_t)(intptr_t)*state;
  if (!sw_isa_supported(isa)) {
    print_message("[  SKIPPED ] %s: not supported by this CPU\n", sw_isa_name(isa));
    skip();
  }
  return isa;
}

#endif
