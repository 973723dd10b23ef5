/* sw_sde: exports the kernels' per-call accounting (sw_ffn_stats_t) as PAPI software-defined events, so any PAPI
 * tool (and the workers) read them like hardware counters.  Counters live in an sw_sde_t context, registered
 * under a library name (default "sparsweep"); the events and the counters' lifetime are described below. */

/* With the default name "sparsweep" the events are:
 *   sde:::sparsweep::flops             FLOPs executed (2 per multiply-add; selection/router/predictor included)
 *   sde:::sparsweep::flops_select      part of flops spent selecting (dense gate, router, predictor)
 *   sde:::sparsweep::flops_dense       FLOPs the dense FFN would have executed for the same tokens
 *   sde:::sparsweep::weight_bytes      weight bytes read
 *   sde:::sparsweep::neurons_executed  Σ over tokens of executed neurons
 *   sde:::sparsweep::neurons_total     Σ over tokens of d_ff
 *   sde:::sparsweep::experts_executed  Σ over tokens of executed experts (MoE)
 *   sde:::sparsweep::experts_total     Σ over tokens of experts available (MoE)
 *   sde:::sparsweep::tokens            tokens processed
 *   sde:::sparsweep::calls             kernel calls accounted
 * All are monotonically increasing long long counters (PAPI_SDE_DELTA) created with papi_sde_create_counter, so
 * their storage belongs to libsde and lives as long as the process: contexts initialised later under the same
 * library name find and increment the same counters (libsde 7.0 cannot re-register or re-initialise a library
 * after papi_sde_shutdown).  The ctx fields hold this context's own totals. */
#ifndef SW_SDE_H
#define SW_SDE_H
#include "common/sw_err.h"
#include "kernels/sw_ffn.h"

#define SW_SDE_LIBRARY "sparsweep"
#define SW_SDE_N_COUNTERS 10

typedef struct sw_sde {
  void     *handle; /* papi_handle_t of the library name */
  void     *cntr[SW_SDE_N_COUNTERS]; /* libsde counter handles, in sw_sde_counter_names order */
  long long flops, flops_select, flops_dense, weight_bytes;
  long long neurons_executed, neurons_total, experts_executed, experts_total, tokens, calls;
} sw_sde_t;

/* Counter names in registration order ("flops", ..., "calls"). */
extern const char *const sw_sde_counter_names[SW_SDE_N_COUNTERS];

/* Zeroes the counters and registers them under library (NULL = "sparsweep").  One live context per library name
 * per process (PAPI SDE keys counters by name).  Works without PAPI running (libsde records the pointers). */
sw_rc sw_sde_init(sw_sde_t *ctx, const char *library, sw_err_t *err);
/* Adds one call's statistics to the counters (FLOPs and bytes rounded to whole units). */
void  sw_sde_account(sw_sde_t *ctx, const sw_ffn_stats_t *st);
/* Detaches ctx from the counters (libsde keeps them; the totals stay readable in ctx). */
void  sw_sde_shutdown(sw_sde_t *ctx);

#endif
