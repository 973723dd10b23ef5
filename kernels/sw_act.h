/* sw_act: elementwise FFN activations (relu, gelu erf/tanh, silu, relu², fatrelu) in float and a float64
 * reference, plus the names used in configs.  Gated forms (swiglu, geglu, reglu) are an activation applied
 * to the gate projection times the up projection; sw_act_parse maps their names to (activation, gated=1).
 * Definitions: GELU (Hendrycks & Gimpel 2016, erf form and its tanh approximation), SiLU (Elfwing et al. 2018),
 * ReLU² (So et al. 2021, Primer), FATReLU (Kurtz et al. 2020: x if x > threshold else 0). */
#ifndef SW_ACT_H
#define SW_ACT_H
#include <stddef.h>

#include "common/sw_err.h"

typedef enum sw_act {
  SW_ACT_IDENTITY = 0,
  SW_ACT_RELU = 1,
  SW_ACT_GELU_ERF = 2,
  SW_ACT_GELU_TANH = 3,
  SW_ACT_SILU = 4,
  SW_ACT_RELU2 = 5,   /* max(x,0)^2 */
  SW_ACT_FATRELU = 6, /* x if x > param else 0 (param = threshold, >= 0) */
  SW_ACT_COUNT
} sw_act_t;

/* One value in float; param is used by FATRELU only. */
float sw_act_1(sw_act_t act, float x, float param);
/* Float64 reference of the same function (independent formula path, for tests and references). */
double sw_act_ref(sw_act_t act, double x, double param);
/* y[i] = act(x[i]) for i < n; y == x (in place) is allowed. */
void sw_act_apply(float *y, const float *x, sw_act_t act, float param, size_t n);
/* y[i] = act(g[i]) * u[i] (the gated product); y may alias g or u. */
void sw_act_apply_gated(float *y, const float *g, const float *u, sw_act_t act, float param, size_t n);

/* Config name of an activation ("relu", "gelu", "gelu_tanh", "silu", "relu2", "fatrelu", "identity"). */
const char *sw_act_name(sw_act_t act);
/* Parses an activation name.  Plain names give *gated = 0; "swiglu" (silu), "geglu" (gelu erf),
 * "geglu_tanh", "reglu" (relu) and "relu2glu" give *gated = 1.  "gelu_erf" is an alias of "gelu".
 * SW_ERR_INVALID with the list of valid names otherwise. */
sw_rc sw_act_parse(const char *name, sw_act_t *act, int *gated, sw_err_t *err);

#endif
