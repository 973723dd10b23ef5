/* sw_wsparse_avx512: the AVX-512 bodies of the weight-sparse kernels (kernels/sw_wsparse_avx512.c), called by
 * kernels/sw_wsparse.c when the context's variant is SW_ISA_AVX512.  Built with SW_AVX512_SHIM, the same source
 * runs on any CPU through plain-C definitions of its intrinsics (tests/shim/sw_avx512_shim.h) under the name
 * sw_spmv_bitmap_avx512_shim (and _permute_shim), so that its indexing is tested on machines without AVX-512 too
 * (tests/unit/test_wsparse_shim.c). */
#ifndef SW_WSPARSE_AVX512_H
#define SW_WSPARSE_AVX512_H
#include "kernels/sw_wsparse.h"

#include <stdbool.h>

#ifdef SW_AVX512_SHIM
#define sw_spmv_bitmap_avx512              sw_spmv_bitmap_avx512_shim
#define sw_spmv_bitmap_avx512_permute      sw_spmv_bitmap_avx512_permute_shim
#define sw_bitmap_avx512_permute_supported sw_bitmap_avx512_permute_supported_shim
#endif

/* y[0..w->rows) = W x over the bitmap format (overwrites y), packed values placed by vexpandps, the values
 * prefetched pf non-zeros ahead (any pf: a prefetch never faults); requires AVX-512 F/BW/VL/DQ (or the shim). */
void sw_spmv_bitmap_avx512(float *y, const sw_bitmap_t *w, const float *x, size_t pf);
/* The same, values placed by a vpopcntd-computed vpermps (faster on Zen 5, kernels/sw_wsparse_avx512.c); requires
 * sw_bitmap_avx512_permute_supported(). */
void sw_spmv_bitmap_avx512_permute(float *y, const sw_bitmap_t *w, const float *x, size_t pf);
/* Whether this CPU runs the permute body: AVX-512 (sw_isa_supported) and AVX512_VPOPCNTDQ.  False off x86-64. */
bool sw_bitmap_avx512_permute_supported(void);

#endif
