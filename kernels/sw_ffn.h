/* sw_ffn: shared types of the FFN kernels (docs/methods.md §1): weights in neuron-major layout, the per-token
 * active-set mask, per-call statistics (FLOPs, bytes, neurons/experts executed) and the scratch workspace.
 * Neuron i owns row i of W_gate and W_up (plain FFN: W1ᵀ) and row i of W_down (plain: W2), each d_model
 * long; FFN(x) = Σ_i h_i(x) · down_i with h_i = act(gate_i·x) · (up_i·x) (gated) or act(up_i·x + b1_i) (plain).
 * Row i of a matrix M starts at M + i*ld_M elements, so separate matrices (ld = d_model) and the
 * interleaved PowerInfer-style layout [gate_i | up_i | down_i] (ld = 3*d_model) are both described. */
#ifndef SW_FFN_H
#define SW_FFN_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"
#include "kernels/sw_act.h"
#include "kernels/sw_isa.h"

typedef enum sw_dtype {
  SW_DTYPE_F32 = 0,
  SW_DTYPE_BF16 = 1 /* uint16_t storage: the high 16 bits of an IEEE float (round-to-nearest-even on pack) */
} sw_dtype_t;

/* Weights of one FFN.  The struct only points at storage (not owned) except when filled by
 * sw_ffn_weights_alloc, which sets owned_buf. */
typedef struct sw_ffn_weights {
  int         d_model;   /* input/output width */
  int         d_ff;      /* number of neurons */
  int         gated;     /* 1: gate, up, down (SwiGLU family); 0: plain up(W1ᵀ), down(W2) */
  sw_act_t    act;       /* activation applied to the gate (gated) or to up (plain) */
  float       act_param; /* FATRELU threshold; 0 otherwise */
  sw_dtype_t  dtype;     /* element type of gate/up/down (biases are always float) */
  const void *gate;      /* gated only: d_ff rows of d_model, row i at gate + i*ld_gate; NULL when plain */
  const void *up;        /* d_ff rows of d_model */
  const void *down;      /* d_ff rows of d_model */
  size_t      ld_gate, ld_up, ld_down; /* elements between consecutive rows (>= d_model) */
  const float *b_up;     /* plain only, optional: b1[d_ff] (NULL = none) */
  const float *b_down;   /* optional: b2[d_model] added to every output (NULL = none) */
  void       *owned_buf; /* set by sw_ffn_weights_alloc; freed by sw_ffn_weights_free */
} sw_ffn_weights_t;

/* Allocates interleaved neuron-major storage (64-byte aligned, rows [gate_i | up_i | down_i] or [up_i | down_i])
 * and fills w's pointers/strides; the contents are uninitialised (see sw_ffn_weights_fill_random / _pack).
 * Biases stay NULL.  Free with sw_ffn_weights_free. */
sw_rc sw_ffn_weights_alloc(sw_ffn_weights_t *w, int d_model, int d_ff, int gated, sw_act_t act, float act_param,
                           sw_dtype_t dtype, sw_err_t *err);
void  sw_ffn_weights_free(sw_ffn_weights_t *w);
/* Bytes of the gate/up/down matrices (d_ff × d_model each, dtype-sized), excluding padding and biases. */
size_t sw_ffn_weights_bytes(const sw_ffn_weights_t *w);
/* Fills allocated weights with reproducible N(0, scale²) values from seed (scale = 1/sqrt(d_model) for
 * gate/up and 1/sqrt(d_ff) for down), rounding to bf16 when dtype is BF16. */
void sw_ffn_weights_fill_random(sw_ffn_weights_t *w, uint64_t seed);
/* Copies float matrices into allocated weights (converting to bf16 if needed).  gate/up are [d_ff][d_model]
 * row-major (PyTorch nn.Linear weight layout); down is [d_ff][d_model] when down_transposed == 0, or the
 * PyTorch down_proj layout [d_model][d_ff] when down_transposed == 1.  gate is ignored when !gated. */
void sw_ffn_weights_pack(sw_ffn_weights_t *w, const float *gate, const float *up, const float *down,
                         int down_transposed);
/* Element (row, col) of a weight matrix as float (any dtype); for references and tests, not hot paths. */
float sw_ffn_weight_at(const void *m, size_t ld, sw_dtype_t dtype, int row, int col);

/* bf16 <-> f32 conversions (round to nearest even; NaN stays NaN). */
uint16_t sw_bf16_from_f32(float x);
float    sw_bf16_to_f32(uint16_t h);

/* Per-token active sets (CSR): token t's active unit ids are idx[off[t] .. off[t+1]), strictly ascending.
 * Units are neurons (n_units = d_ff) or, for MoE, experts (n_units = number of experts). */
typedef struct sw_mask {
  int32_t *idx;     /* capacity cap entries */
  int64_t *off;     /* max_tok + 1 entries; off[0] = 0 */
  int      n_units;
  int      n_tok;   /* tokens currently described (<= max_tok) */
  int      max_tok;
  size_t   cap;     /* = max_tok * n_units */
} sw_mask_t;

/* Allocates a mask for up to max_tok tokens over n_units units (n_tok = 0); SW_ERR_INVALID for non-positive
 * sizes, SW_ERR_NOMEM.  The caller owns m's storage: release it with sw_mask_free (also after a failed alloc). */
sw_rc sw_mask_alloc(sw_mask_t *m, int n_units, int max_tok, sw_err_t *err);
/* Frees the index arrays and zeroes m; NULL or an already freed mask is a no-op. */
void  sw_mask_free(sw_mask_t *m);
/* Every unit active for n_tok tokens (n_tok <= max_tok). */
void sw_mask_set_all(sw_mask_t *m, int n_tok);
/* No unit active for n_tok tokens. */
void sw_mask_set_none(sw_mask_t *m, int n_tok);
/* Builds the mask from a dense 0/1 array active[t*n_units + i]. */
void sw_mask_from_flags(sw_mask_t *m, const uint8_t *active, int n_tok);
/* Active units of token t. */
static inline int64_t sw_mask_count(const sw_mask_t *m, int t) { return m->off[t + 1] - m->off[t]; }
/* Fraction of inactive units over all tokens (1 - nnz / (n_tok*n_units)); 0 when n_tok == 0. */
double sw_mask_sparsity(const sw_mask_t *m);
/* Sparsity of token t alone. */
double sw_mask_token_sparsity(const sw_mask_t *m, int t);

/* Per-call accounting.  FLOPs count 2 per multiply-add of a matrix product plus 1 per elementwise gated
 * product (activations themselves are not counted; fvcore-based papers count 1 per multiply-add, i.e. half).
 * Weight bytes count each weight row read once per call (a row shared by several tokens is read once).
 * FLOPs are analytical over the (token, neuron) pairs of the mask: batched paths that compute a superset and
 * discard it (sgemm over the union or over all neurons with h masked) are not charged for the discarded part,
 * but rows_read / weight_bytes do reflect every row they read. */
typedef struct sw_ffn_stats {
  double  flops;            /* executed, including selection/router/predictor work below */
  double  flops_dense;      /* what the dense FFN would execute for the same tokens */
  double  flops_select;     /* part of flops spent deciding (dense gate for CATS, router, predictor) */
  double  weight_bytes;     /* weight bytes read by this call */
  double  weight_bytes_dense;
  int64_t neurons_executed; /* Σ over tokens of active neurons */
  int64_t neurons_total;    /* n_tok * d_ff */
  int64_t rows_read;        /* distinct neurons whose rows were read (union over tokens) */
  int64_t experts_executed; /* Σ over tokens of executed experts (MoE only) */
  int64_t experts_total;    /* n_tok * n_experts (MoE only) */
  int64_t tokens;
  int64_t calls;
} sw_ffn_stats_t;

/* Adds the counters of src to dst. */
void sw_ffn_stats_add(sw_ffn_stats_t *dst, const sw_ffn_stats_t *src);

struct sw_pool; /* worker thread pool, sw_ffn_work_alloc creates it when n_threads > 1 */

/* Scratch for the kernels: query the size, allocate once, reuse for every call of at most max_tok
 * tokens and the same (or smaller) d_model/d_ff.  Not shareable between concurrent calls. */
typedef struct sw_ffn_work {
  float          *f;        /* 64-byte aligned scratch floats */
  size_t          n_f;
  int32_t        *i32;      /* scratch ints */
  size_t          n_i32;
  int             max_tok;
  int             d_model, d_ff;
  int             n_threads; /* threads used by the sparse kernels (the dense path uses OpenBLAS's setting) */
  struct sw_pool *pool;      /* NULL when n_threads == 1 */
  sw_isa_t        isa;       /* SIMD variant the kernels run (resolved, never AUTO); see sw_ffn_work_set_isa */
} sw_ffn_work_t;

/* Scratch floats/ints needed for max_tok tokens of an FFN of this shape with n_threads threads. */
size_t sw_ffn_work_floats(int d_model, int d_ff, int max_tok, int n_threads);
size_t sw_ffn_work_ints(int d_model, int d_ff, int max_tok, int n_threads);
/* Allocates the workspace (and a pool of n_threads-1 worker threads when n_threads > 1).  The SIMD variant is
 * sw_isa_resolve(SW_ISA_AUTO): SPARSWEEP_KERNEL_ISA when set (a bad or unsupported value is an error), else the
 * best the CPU supports. */
sw_rc sw_ffn_work_alloc(sw_ffn_work_t *work, int d_model, int d_ff, int max_tok, int n_threads, sw_err_t *err);
/* Chooses the SIMD variant of the kernels using this workspace (request resolved by sw_isa_resolve; an
 * unsupported level is SW_ERR_UNSUPPORTED and leaves the workspace unchanged). */
sw_rc sw_ffn_work_set_isa(sw_ffn_work_t *work, sw_isa_t request, sw_err_t *err);
void  sw_ffn_work_free(sw_ffn_work_t *work);

#endif
