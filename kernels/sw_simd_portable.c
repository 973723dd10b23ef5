/* sw_simd_portable: the portable kernel variant, GCC vector extensions without ISA intrinsics or target
 * attributes (SSE2 on any x86-64, NEON on aarch64); bodies in kernels/sw_simd_vec.h. */
#define SW_V_LANES 4 /* 16-byte vectors: SSE2 and NEON registers, no ABI change */
#define SW_V_ATTR
#define SW_V_TABLE sw_simd_portable
#define SW_V_ISA SW_ISA_PORTABLE
#include "kernels/sw_simd_vec.h"
