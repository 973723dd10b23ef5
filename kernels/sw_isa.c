/* sw_isa: variant names, parsing and the CPUID check behind run-time kernel dispatch (kernels/sw_isa.h). */
#include "kernels/sw_isa.h"

#include <stdlib.h>
#include <string.h>

static const char *const sw_isa_names[SW_ISA_COUNT] = {"portable", "avx2", "avx512"};

const char *sw_isa_name(sw_isa_t isa) {
  if (isa == SW_ISA_AUTO) return "auto";
  if (isa < 0 || isa >= SW_ISA_COUNT) return "?";
  return sw_isa_names[isa];
}

sw_rc sw_isa_parse(const char *text, sw_isa_t *out, sw_err_t *err) {
  if (text && strcmp(text, "auto") == 0) {
    *out = SW_ISA_AUTO;
    return SW_OK;
  }
  for (int i = 0; text && i < SW_ISA_COUNT; i++)
    if (strcmp(text, sw_isa_names[i]) == 0) {
      *out = (sw_isa_t)i;
      return SW_OK;
    }
  return sw_err_set(err, SW_ERR_PARSE, "kernel ISA '%s' is not one of auto, portable, avx2, avx512",
                    text ? text : "(null)");
}

bool sw_isa_supported(sw_isa_t isa) {
  switch (isa) {
  case SW_ISA_PORTABLE: return true;
#if defined(__x86_64__) || defined(__i386__)
  /* __builtin_cpu_supports also checks that the OS saves the wider registers (XGETBV). */
  case SW_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  case SW_ISA_AVX512:
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#endif
  default: return false;
  }
}

sw_isa_t sw_isa_best(void) {
  for (int i = SW_ISA_COUNT - 1; i > SW_ISA_PORTABLE; i--)
    if (sw_isa_supported((sw_isa_t)i)) return (sw_isa_t)i;
  return SW_ISA_PORTABLE;
}

sw_rc sw_isa_resolve(sw_isa_t request, sw_isa_t *out, sw_err_t *err) {
  if (request == SW_ISA_AUTO) {
    const char *env = getenv(SW_ISA_ENV);
    if (!env || !*env || strcmp(env, "auto") == 0) {
      *out = sw_isa_best();
      return SW_OK;
    }
    sw_rc rc = sw_isa_parse(env, &request, err);
    if (rc != SW_OK) return sw_err_prefix(err, "%s", SW_ISA_ENV);
    if (request == SW_ISA_AUTO) request = sw_isa_best();
  }
  if (request < 0 || request >= SW_ISA_COUNT)
    return sw_err_set(err, SW_ERR_INVALID, "kernel ISA value %d out of range", (int)request);
  if (!sw_isa_supported(request))
    return sw_err_set(err, SW_ERR_UNSUPPORTED, "kernel ISA '%s' is not supported by this CPU (best: %s)",
                      sw_isa_name(request), sw_isa_name(sw_isa_best()));
  *out = request;
  return SW_OK;
}

const char *sw_isa_variant_flags(void) {
#if defined(__x86_64__)
  return "variants portable, avx2 (target avx2,fma; -ffp-contract=fast), avx512 (target "
         "avx512f,avx512bw,avx512vl,avx512dq; the bitmap SpMV's permute body +avx512vpopcntdq where the CPU has it)";
#else
  return "variant portable";
#endif
}
