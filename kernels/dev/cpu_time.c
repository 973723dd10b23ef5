/* kernels/dev/cpu_time.c: variant harness measuring thread CPU time (not only wall time) of the dense and the
 * masked sparse FFN on one shape, for profiling on the shared, oversubscribed VM where wall times mislead.
 * Not part of the build: gcc -O2 -I. -I/usr/include/x86_64-linux-gnu/openblas-pthread kernels/dev/cpu_time.c \
 *   BUILD/kernels/libsw_kernels.a BUILD/common/libsw_common.a -lopenblas -lsde -lm -o /tmp/cpu_time
 * Usage: cpu_time D_MODEL D_FF N_TOK SPARSITY   (random per-token masks; combine with `perf record -e cpu-clock`) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "kernels/sw_ffn.h"
#include "kernels/sw_ffn_dense.h"
#include "kernels/sw_ffn_sparse.h"
#include "kernels/sw_policy.h"
static double cpu(void){struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t); return t.tv_sec+1e-9*t.tv_nsec;}
static double wall(void){struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec+1e-9*t.tv_nsec;}
int main(int argc, char **argv){
  if (argc != 5) { fprintf(stderr, "usage: cpu_time D_MODEL D_FF N_TOK SPARSITY\n"); return 2; }
  int d = atoi(argv[1]), f = atoi(argv[2]), n = atoi(argv[3]); double s = atof(argv[4]);
  openblas_set_num_threads(1);
  sw_ffn_weights_t w; sw_ffn_work_t wk; sw_mask_t m; sw_err_t e; sw_policy_t p;
  sw_ffn_weights_alloc(&w, d, f, 1, SW_ACT_SILU, 0, SW_DTYPE_F32, &e); sw_ffn_weights_fill_random(&w, 1);
  sw_ffn_work_alloc(&wk, d, f, n, 1, &e); sw_mask_alloc(&m, f, n, &e);
  sw_policy_init(&p, SW_POLICY_RANDOM, f, 3, &e); sw_policy_calibrate(&p, NULL, NULL, NULL, 0, s, &e);
  sw_policy_select(&m, &p, NULL, NULL, 1, NULL, n);
  float *x = malloc(sizeof(float)*n*d), *o = malloc(sizeof(float)*n*d);
  for (int i = 0; i < n*d; i++) x[i] = (float)((i*7919)%1000)/1000.0f - 0.5f;
  for (int r = 0; r < 3; r++) {
    double c0=cpu(), w0=wall(); sw_ffn_dense_forward(o, x, &w, NULL, &wk, n); double c1=cpu(), w1=wall();
    sw_ffn_sparse_forward(o, x, &w, &m, NULL, &wk, n); double c2=cpu(), w2=wall();
    printf("dense cpu %.1f ms wall %.1f | sparse cpu %.1f ms wall %.1f\n", (c1-c0)*1e3, (w1-w0)*1e3, (c2-c1)*1e3, (w2-w1)*1e3);
  }
  return 0;
}
