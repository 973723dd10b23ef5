/* sw_attn: the attention of one query token over the cached keys and values of its layer (grouped-query heads),
 * with AVX2 and portable bodies and the heads split across an optional thread pool.  Softmax in one pass
 * (running maximum and rescaled sum, the online softmax of Milakov & Gimelshein 2018, "Online normalizer
 * calculation for softmax"), so no score buffer is needed per thread. */
#ifndef SW_ATTN_H
#define SW_ATTN_H
#include <stddef.h>

#include "kernels/sw_quant.h"

typedef struct sw_attn_query {
  float       *out;      /* n_head * hd */
  const float *q;        /* n_head * hd */
  const float *k, *v;    /* cache rows of n_pos positions, row stride `stride` floats; head h reads kv head h/group */
  size_t       stride;
  int          n_pos, n_head, group, hd;
  float        scale;
} sw_attn_query_t;

/* out_h = softmax_j(scale q_h·k_j) · v_j over j < n_pos for every head, on ctx's variant and pool. */
void sw_attn_query(const sw_qctx_t *ctx, const sw_attn_query_t *a);

#endif
