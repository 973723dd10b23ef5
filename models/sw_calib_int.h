/* sw_calib_int: helpers shared by the calibration files (models/sw_calib.c, models/sw_calib_teal.c). */
#ifndef SW_CALIB_INT_H
#define SW_CALIB_INT_H
#include "models/sw_calib.h"

/* gact and u (n × d_ff each) of FFN w on the n inputs x, in chunks. */
sw_rc sw_calib_layer_acts(float *gact, float *u, const sw_ffn_weights_t *w, const float *x, int n, sw_err_t *err);
/* TEAL's input-channel-major gate/up copies of layer L (owned by L). */
sw_rc sw_calib_teal_transpose(sw_method_layer_t *L, sw_err_t *err);
/* TEAL, sequential: every sparsified layer of M, thresholds read from the inputs each site sees when the layers
 * and sites before it are already sparsified (models/sw_calib_teal.c).  cd supplies the tokens and windows. */
sw_rc sw_calib_teal_sequential(sw_method_t *M, const sw_calib_data_t *cd, sw_err_t *err);

#endif
