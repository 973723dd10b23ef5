/* sw_wsparse_avx512: the AVX-512 bodies of the weight-sparse kernels (kernels/sw_wsparse_avx512.c), called by
 * kernels/sw_wsparse.c when the context's variant is SW_ISA_AVX512.  Built with SW_AVX512_SHIM, the same source
 * runs on any CPU through plain-C definitions of its intrinsics (tests/shim/sw_avx512_shim.h) under the name
 * sw_spmv_bitmap_avx512_shim, so that its indexing is tested on machines without AVX-512 too
 * (tests/unit/test_wsparse_shim.c). */
#ifndef SW_WSPARSE_AVX512_H
#define SW_WSPARSE_AVX512_H
#include "kernels/sw_wsparse.h"

#ifdef SW_AVX512_SHIM
#define sw_spmv_bitmap_avx512 sw_spmv_bitmap_avx512_shim
#endif

/* y[0..w->rows) = W x over the bitmap format (overwrites y); requires AVX-512F (or the shim build). */
void sw_spmv_bitmap_avx512(float *y, const sw_bitmap_t *w, const float *x);

#endif
