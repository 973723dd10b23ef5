/* sw_llama_native: internals of weights: native shared by models/sw_llama.c (the public switch is
 * sw_llama_state_native in sw_llama.h). */
#ifndef SW_LLAMA_NATIVE_H
#define SW_LLAMA_NATIVE_H
#include "models/sw_llama.h"

/* Copies the raw blocks of every projection matrix with a quantised kernel (called by the loader). */
sw_rc sw_llama_native_load(sw_llama_t *m, const sw_gguf_t *g, sw_err_t *err);
void  sw_llama_native_free(sw_llama_t *m);
void  sw_llama_state_native_free(sw_llama_state_t *s);
/* The native matrix of a family in layer l when the state runs native weights and one exists, else NULL. */
const sw_qmat_t *sw_llama_native_mat(const sw_llama_t *m, const sw_llama_state_t *s, sw_llama_family_t fam, int l);
/* y (n_tok, W->rows) = quantise(x) . W^T (+ y when accumulate); leaves the quantised x in s->xq. */
void sw_llama_native_project(sw_llama_state_t *s, const sw_qmat_t *W, float *y, const float *x, int n_tok,
                             int accumulate);
/* The dense gated SiLU FFN of layer l on native weights; 0 (nothing done) when a matrix has no native copy. */
int sw_llama_native_ffn(const sw_llama_t *m, sw_llama_state_t *s, int l, float *out, const float *x, int n_tok);

#endif
