/* sw_teal_greedy: TEAL's greedy block-wise sparsity allocation ("greedyopt", Liu et al. 2024, "Training-Free
 * Activation Sparsity in Large Language Models", arXiv 2408.14690, §4.2): within one block, every tensor whose
 * input is sparsified starts at sparsity 0; each step raises by `step` the sparsity of the tensor whose increase
 * gives the smallest block output error, until the block's size-weighted sparsity Σ size_i s_i / Σ size_i (the
 * weight elements each input feeds, methods.md §1 definition 3) reaches the target; the last step is shortened
 * so the block lands exactly on it.  The error is a caller's function of the per-tensor sparsities (TEAL measures
 * the block's output on calibration data). */
#ifndef SW_TEAL_GREEDY_H
#define SW_TEAL_GREEDY_H
#include "common/sw_err.h"

#define SW_TEAL_GREEDY_MAX 16 /* tensors per block */

/* Block output error at per-tensor sparsities s[n] (lower is better). */
typedef double (*sw_teal_block_err_fn)(void *ctx, const double *s, int n);

typedef struct sw_teal_greedy_cfg {
  int           n;      /* tensors in the block, 1..SW_TEAL_GREEDY_MAX */
  const double *size;   /* size[n] > 0: weight elements fed by each tensor's input */
  double        target; /* block sparsity to reach, [0, max_s] */
  double        step;   /* sparsity increment per greedy step, (0, 1) */
  double        max_s;  /* ceiling of any one tensor's sparsity, (0, 1] */
} sw_teal_greedy_cfg_t;

/* Fills s[n] with the greedy allocation; *steps (may be NULL) receives the number of greedy steps.  Ties go to
 * the lowest tensor index.  SW_ERR_RANGE on a bad config (message names the field). */
sw_rc sw_teal_greedy(double *s, const sw_teal_greedy_cfg_t *cfg, sw_teal_block_err_fn f, void *ctx, int *steps,
                     sw_err_t *err);
/* Size-weighted block sparsity of s[n]. */
double sw_teal_block_sparsity(const double *s, const double *size, int n);

#endif
