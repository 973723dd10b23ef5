/* sw_act: activation functions in float (kernels) and float64 (references; written through different
 * identities, e.g. SiLU via tanh and GELU via erfc, so that a slip in one path shows up in tests). */
#include "kernels/sw_act.h"

#include <math.h>
#include <string.h>

#include "common/sw_names.h"

#define SW_SQRT_2_OVER_PI 0.7978845608028654  /* sqrt(2/pi), GELU tanh form (Hendrycks & Gimpel 2016) */
#define SW_GELU_TANH_C 0.044715
#define SW_INV_SQRT2 0.7071067811865476

float sw_act_1(sw_act_t act, float x, float param) {
  switch (act) {
  case SW_ACT_RELU: return x > 0.0f ? x : 0.0f;
  case SW_ACT_GELU_ERF: return 0.5f * x * (1.0f + erff(x * (float)SW_INV_SQRT2));
  case SW_ACT_GELU_TANH: {
    float inner = (float)SW_SQRT_2_OVER_PI * (x + (float)SW_GELU_TANH_C * x * x * x);
    return 0.5f * x * (1.0f + tanhf(inner));
  }
  case SW_ACT_SILU: return x / (1.0f + expf(-x));
  case SW_ACT_RELU2: return x > 0.0f ? x * x : 0.0f;
  case SW_ACT_FATRELU: return x > param ? x : 0.0f;
  case SW_ACT_IDENTITY:
  case SW_ACT_COUNT: break;
  }
  return x;
}

double sw_act_ref(sw_act_t act, double x, double param) {
  switch (act) {
  case SW_ACT_RELU: return fmax(x, 0.0);
  case SW_ACT_GELU_ERF: return 0.5 * x * erfc(-x * SW_INV_SQRT2);
  case SW_ACT_GELU_TANH: {
    double inner = SW_SQRT_2_OVER_PI * x * (1.0 + SW_GELU_TANH_C * x * x);
    return x / (1.0 + exp(-2.0 * inner)); /* 0.5(1+tanh(a)) = 1/(1+e^{-2a}) */
  }
  case SW_ACT_SILU: return x * 0.5 * (1.0 + tanh(0.5 * x));
  case SW_ACT_RELU2: return x > 0.0 ? pow(x, 2.0) : 0.0;
  case SW_ACT_FATRELU: return x > param ? x : 0.0;
  case SW_ACT_IDENTITY:
  case SW_ACT_COUNT: break;
  }
  return x;
}

void sw_act_apply(float *y, const float *x, sw_act_t act, float param, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = sw_act_1(act, x[i], param);
}

void sw_act_apply_gated(float *y, const float *g, const float *u, sw_act_t act, float param, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = sw_act_1(act, g[i], param) * u[i];
}

/* Config spellings, indexed by sw_act_t: the plain activation and its gated (GLU) form (NULL: no GLU form). */
static const char *const sw_act_names[SW_ACT_COUNT] = {"identity", "relu",  "gelu",   "gelu_tanh",
                                                       "silu",     "relu2", "fatrelu"};
static const char *const sw_act_glu_names[SW_ACT_COUNT] = {NULL,     "reglu",    "geglu", "geglu_tanh",
                                                           "swiglu", "relu2glu", NULL};

const char *sw_act_name(sw_act_t act) { return sw_names_at(sw_act_names, SW_ACT_COUNT, (int)act); }

sw_rc sw_act_parse(const char *name, sw_act_t *act, int *gated, sw_err_t *err) {
  int plain = sw_names_find(sw_act_names, SW_ACT_COUNT, name);
  int glu = sw_names_find(sw_act_glu_names, SW_ACT_COUNT, name);
  if (name && strcmp(name, "gelu_erf") == 0) plain = SW_ACT_GELU_ERF; /* explicit spelling of "gelu" */
  if (plain >= 0 || glu >= 0) {
    *act = (sw_act_t)(plain >= 0 ? plain : glu);
    *gated = plain < 0;
    return SW_OK;
  }
  return sw_err_set(err, SW_ERR_INVALID,
                    "unknown activation '%s' (identity, relu, gelu, gelu_tanh, silu, relu2, fatrelu, swiglu, "
                    "geglu, geglu_tanh, reglu, relu2glu)",
                    name ? name : "(null)");
}
