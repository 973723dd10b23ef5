/* sw_teal_alloc: per-tensor TEAL sparsities of one layer (method key teal_alloc).  uniform: every input at the
 * method's level (TEAL's uniform allocation).  greedy: TEAL's greedy block-wise allocation
 * (kernels/sw_teal_greedy.h) over the layer's four sparsified inputs, with the block's size-weighted sparsity
 * equal to the level.  The block error it minimises here is a proxy: the sum over the four inputs of the relative
 * squared output error ‖W(x − x̃)‖² / ‖Wx‖² of the matrices each input feeds, on calibration tokens (TEAL
 * measures the whole block's output; this proxy ignores how sparsifying the gate/up input changes h). */
#ifndef SW_TEAL_ALLOC_H
#define SW_TEAL_ALLOC_H
#include "models/sw_method.h"

enum { SW_TEAL_IN_QKV = 0, SW_TEAL_IN_O = 1, SW_TEAL_IN_FFN = 2, SW_TEAL_IN_DOWN = 3, SW_TEAL_INPUTS = 4 };
#define SW_TEAL_ALLOC_STEP 0.05  /* greedy increment */
#define SW_TEAL_ALLOC_MAX 0.95   /* ceiling of one input's sparsity */
#define SW_TEAL_ALLOC_TOKENS 32  /* calibration tokens the error is measured on (evenly spaced) */

/* "uniform" | "greedy" into *greedy (0/1); SW_ERR_PARSE naming the value otherwise. */
sw_rc sw_teal_alloc_parse(const char *text, int *greedy, sw_err_t *err);
/* levels[SW_TEAL_INPUTS] for layer l from its calibration inputs: x (n × d_model) FFN input, a (SW_LLAMA_SITES ×
 * n × d_model) attention inputs, h (n × d_ff) the dense intermediate act(gate)·up. */
sw_rc sw_teal_alloc_levels(const sw_method_t *M, int l, const float *x, const float *a, const float *h, int n,
                           double levels[SW_TEAL_INPUTS], sw_err_t *err);

#endif
