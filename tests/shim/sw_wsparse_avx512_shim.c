/* The AVX-512 bitmap SpMV body compiled against the plain-C intrinsics of tests/shim/sw_avx512_shim.h, as
 * sw_spmv_bitmap_avx512_shim (kernels/sw_wsparse_avx512.h), linked into tests/unit/test_wsparse.c. */
#include "tests/shim/sw_avx512_shim.h"

#define SW_AVX512_SHIM 1
#include "kernels/sw_wsparse_avx512.c"
