/* sw_method_native: a method's FFN on native weights (models/sw_method_native.c). */
#ifndef SW_METHOD_NATIVE_H
#define SW_METHOD_NATIVE_H
#include "models/sw_method.h"

/* Switches the method's FFN to the model's native weights where it can (sw_method_native_layer); the ISA
 * variant is resolved once here.  The model must stay loaded. */
sw_rc sw_method_native(sw_method_t *M, sw_isa_t isa, sw_err_t *err);
/* Runs the method's native kernels on the state's thread pool (s NULL or a state without a pool: the caller's
 * thread).  Call it after sw_llama_state_native, and with NULL before that state is freed (the pool is borrowed). */
void sw_method_native_bind(sw_method_t *M, const sw_llama_state_t *s);
/* 1 when layer l runs natively: gate, up and down native, and for a sparse layer (sparse = 1, any method) the
 * neuron-major Q8_0 down rows built. */
int sw_method_native_layer(const sw_method_t *M, int l, int sparse);
/* The layer's FFN on native weights (dense when sparse == 0, else the method's sparse FFN). */
sw_rc sw_method_native_forward(sw_method_t *M, int l, float *out, const float *x, int n_tok, int sparse,
                               sw_ffn_stats_t *st);

#endif
