/* sw_prune: weight pruning of linear layers (README.md, "Weight sparsity beside activation sparsity"; docs/methods.md §9), calibrated on recorded layer inputs X (n x cols):
 *   magnitude  drop the smallest |W| (per matrix for unstructured, per group of 4 for 2:4)
 *   wanda      drop the smallest |W_rc| · ‖X_c‖₂ per output row (Sun et al. 2023, arXiv 2306.11695)
 *   sparsegpt  OBS-style column-by-column pruning with error compensation (Frantar & Alistarh 2023,
 *              arXiv 2301.00774): H = XᵀX + λI (λ = 1% of the mean diagonal, the paper's dampening), U the upper
 *              Cholesky factor of H⁻¹ (LAPACK spotrf/spotri from OpenBLAS); in blocks of 128 columns the mask
 *              keeps the largest w²/U_jj², and pruning column j updates the later columns by −err·U_j,k.
 * Patterns: unstructured at sparsity s, or 2:4 (two of every four consecutive inputs of a row kept; s ignored).
 * sw_prune_model prunes every linear of a Llama model (q, k, v, o, gate, up, down) in place, one-shot from the
 * dense model's inputs recorded by models/sw_calib.h (the down projection's input h = SiLU(gate x)·(up x) is
 * recomputed from the recorded FFN inputs before that layer is pruned). */
#ifndef SW_PRUNE_H
#define SW_PRUNE_H
#include "common/sw_err.h"
#include "models/sw_calib.h"
#include "models/sw_llama.h"

typedef enum sw_prune_method {
  SW_PRUNE_MAGNITUDE = 0,
  SW_PRUNE_WANDA,
  SW_PRUNE_SPARSEGPT,
  SW_PRUNE_COUNT
} sw_prune_method_t;
typedef enum sw_prune_pattern { SW_PRUNE_UNSTRUCTURED = 0, SW_PRUNE_NM24 } sw_prune_pattern_t;

#define SW_PRUNE_BLOCK 128  /* SparseGPT column block (the paper's B) */
#define SW_PRUNE_DAMP 0.01  /* SparseGPT dampening: fraction of the mean diagonal of H added to it */

typedef struct sw_prune_cfg {
  sw_prune_method_t  method;
  sw_prune_pattern_t pattern;
  double             sparsity; /* unstructured: fraction of weights set to zero, [0, 1) */
} sw_prune_cfg_t;

/* "magnitude", "wanda", "sparsegpt"; "unstructured", "2:4".  Parse errors name the value. */
const char *sw_prune_method_name(sw_prune_method_t m);
sw_rc       sw_prune_method_parse(const char *s, sw_prune_method_t *out, sw_err_t *err);
sw_rc       sw_prune_pattern_parse(const char *s, sw_prune_pattern_t *out, sw_err_t *err);

/* h (cols x cols, row-major, symmetric) = XᵀX over the n rows of x (n x cols). */
void sw_prune_gram(float *h, const float *x, int n, int cols);

/* Prunes w (rows x cols, row-major, y = W x) in place.  h = XᵀX of its inputs (cols x cols; NULL only for
 * magnitude; read-only).  SW_ERR_INVALID for a bad sparsity, cols % 4 != 0 with 2:4, or a missing h;
 * SW_ERR_INTERNAL when the Cholesky factorisation fails (H not positive definite after dampening). */
sw_rc sw_prune_matrix(float *w, int rows, int cols, const float *h, const sw_prune_cfg_t *cfg, sw_err_t *err);

/* Prunes every linear of every layer of m in place from cd (collected on the dense model).  Returns the
 * fraction of linear-layer weights that are zero afterwards in *achieved (may be NULL). */
sw_rc sw_prune_model(sw_llama_t *m, const sw_calib_data_t *cd, const sw_prune_cfg_t *cfg, double *achieved,
                     sw_err_t *err);

#endif
