/* sw_flops: analytical FLOP / weight-byte formulas (2 FLOPs per multiply-add; gated FFNs add one
 * elementwise product per active neuron), shared by kernel stats and trial metrics. */
#include "kernels/sw_flops.h"

double sw_flops_ffn_neurons(int d_model, int gated, int64_t n_active) {
  double per = gated ? (3.0 * 2.0 * d_model + 1.0) : (2.0 * 2.0 * d_model);
  return per * (double)n_active;
}

double sw_flops_ffn_dense(int d_model, int d_ff, int gated, int64_t n_tok) {
  return sw_flops_ffn_neurons(d_model, gated, (int64_t)d_ff * n_tok);
}

double sw_bytes_ffn_rows(int d_model, int gated, sw_dtype_t dtype, int64_t n_rows) {
  double elem = dtype == SW_DTYPE_BF16 ? 2.0 : 4.0;
  return (gated ? 3.0 : 2.0) * d_model * elem * (double)n_rows;
}

double sw_flops_linear(int d_in, int d_out, int64_t n_tok) { return 2.0 * d_in * d_out * (double)n_tok; }
