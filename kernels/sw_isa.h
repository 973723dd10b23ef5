/* sw_isa: which SIMD variant of a kernel runs.  One binary carries every variant (compiled with
 * per-function target attributes); the variant is chosen once per context from CPUID, or forced by the
 * experiment setting `kernel_isa` or the environment variable SPARSWEEP_KERNEL_ISA. */
#ifndef SW_ISA_H
#define SW_ISA_H
#include <stdbool.h>
#include "common/sw_err.h"

/* Ordered from least to most capable; a CPU that supports one level supports every level below it. */
typedef enum sw_isa {
  SW_ISA_AUTO = -1,    /* only as a request: resolve to the best level the CPU supports */
  SW_ISA_PORTABLE = 0, /* plain C / GCC vector extensions, no ISA intrinsics (any CPU, aarch64 too) */
  SW_ISA_AVX2 = 1,     /* x86-64 AVX2 + FMA (+ F16C) */
  SW_ISA_AVX512 = 2,   /* x86-64 AVX-512 F/BW/VL/DQ */
  SW_ISA_COUNT = 3
} sw_isa_t;

/* The environment variable that overrides `auto` (and only `auto`). */
#define SW_ISA_ENV "SPARSWEEP_KERNEL_ISA"

/* "portable", "avx2", "avx512" ("auto" for SW_ISA_AUTO); never NULL. */
const char *sw_isa_name(sw_isa_t isa);
/* Parses auto|portable|avx2|avx512 (case-sensitive).  SW_ERR_PARSE naming the value otherwise. */
sw_rc sw_isa_parse(const char *text, sw_isa_t *out, sw_err_t *err);
/* Whether this CPU (and OS: XSAVE state enabled) can run the variant.  Portable: always. */
bool sw_isa_supported(sw_isa_t isa);
/* The most capable supported level. */
sw_isa_t sw_isa_best(void);
/* Resolves a request: AUTO becomes SPARSWEEP_KERNEL_ISA if set (parsed; bad value is an error) else
 * sw_isa_best(); an explicit level the CPU cannot run is SW_ERR_UNSUPPORTED with a message naming it. */
sw_rc sw_isa_resolve(sw_isa_t request, sw_isa_t *out, sw_err_t *err);
/* The per-variant target attributes compiled into this binary ("variants portable, avx2 (target avx2,fma; ...)"),
 * recorded after the kernels library's compile flags (SW_KERNEL_C_FLAGS, cmake/SwBuildInfo.cmake) in a run's
 * provenance; never NULL. */
const char *sw_isa_variant_flags(void);

#endif
