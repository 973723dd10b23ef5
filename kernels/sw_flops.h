/* sw_flops: analytical FLOP and weight-byte counts of the FFN kernels (2 FLOPs per multiply-add, 1 per gated
 * elementwise product; see sw_ffn_stats_t).  Used by the kernels' stats and by trial metrics. */
#ifndef SW_FLOPS_H
#define SW_FLOPS_H
#include <stdint.h>

#include "kernels/sw_ffn.h"

/* FLOPs of n_active (token, neuron) pairs: each costs one dot per input projection and one axpy. */
double sw_flops_ffn_neurons(int d_model, int gated, int64_t n_active);
/* Dense FFN FLOPs for n_tok tokens. */
double sw_flops_ffn_dense(int d_model, int d_ff, int gated, int64_t n_tok);
/* Bytes of n_rows neurons' weight rows (gated: 3 rows, plain: 2 rows, each d_model elements). */
double sw_bytes_ffn_rows(int d_model, int gated, sw_dtype_t dtype, int64_t n_rows);
/* FLOPs of a d_in → d_out dense layer for n_tok tokens (router/predictor accounting). */
double sw_flops_linear(int d_in, int d_out, int64_t n_tok);

#endif
