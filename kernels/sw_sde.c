/* sw_sde: registration of the sw_sde_t counters with libsde (PAPI software-defined events) and accumulation of
 * per-call kernel statistics into them. */
#include "kernels/sw_sde.h"

#include <math.h>
#include <sde_lib.h>
#include <string.h>

const char *const sw_sde_counter_names[SW_SDE_N_COUNTERS] = {
    "flops",         "flops_select",     "flops_dense",   "weight_bytes", "neurons_executed",
    "neurons_total", "experts_executed", "experts_total", "tokens",       "calls"};

static long long *sw_sde_slot(sw_sde_t *c, int k) {
  long long *slots[SW_SDE_N_COUNTERS] = {&c->flops,         &c->flops_select,     &c->flops_dense,   &c->weight_bytes,
                                         &c->neurons_executed, &c->neurons_total, &c->experts_executed,
                                         &c->experts_total, &c->tokens,           &c->calls};
  return slots[k];
}

sw_rc sw_sde_init(sw_sde_t *ctx, const char *library, sw_err_t *err) {
  memset(ctx, 0, sizeof *ctx);
  const char *lib = library ? library : SW_SDE_LIBRARY;
  ctx->handle = papi_sde_init(lib);
  if (!ctx->handle) return sw_err_set(err, SW_ERR_INTERNAL, "papi_sde_init(%s) failed", lib);
  for (int k = 0; k < SW_SDE_N_COUNTERS; k++) {
    ctx->cntr[k] = papi_sde_get_counter_handle(ctx->handle, sw_sde_counter_names[k]);
    if (ctx->cntr[k]) continue;
    int rc = papi_sde_create_counter(ctx->handle, sw_sde_counter_names[k], PAPI_SDE_DELTA, &ctx->cntr[k]);
    if (rc != 0 || !ctx->cntr[k]) {
      sw_sde_shutdown(ctx);
      return sw_err_set(err, SW_ERR_INTERNAL, "papi_sde_create_counter(%s::%s) failed (%d)", lib,
                        sw_sde_counter_names[k], rc);
    }
  }
  return SW_OK;
}

void sw_sde_account(sw_sde_t *ctx, const sw_ffn_stats_t *st) {
  long long v[SW_SDE_N_COUNTERS] = {llround(st->flops),       llround(st->flops_select), llround(st->flops_dense),
                                    llround(st->weight_bytes), st->neurons_executed,      st->neurons_total,
                                    st->experts_executed,      st->experts_total,         st->tokens,
                                    st->calls};
  for (int k = 0; k < SW_SDE_N_COUNTERS; k++) {
    *sw_sde_slot(ctx, k) += v[k];
    if (ctx->cntr[k]) (void)papi_sde_inc_counter(ctx->cntr[k], v[k]);
  }
}

void sw_sde_shutdown(sw_sde_t *ctx) {
  ctx->handle = NULL;
  memset(ctx->cntr, 0, sizeof ctx->cntr);
}
