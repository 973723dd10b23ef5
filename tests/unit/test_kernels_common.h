/* Shared helpers of the kernel tests: reproducible random data, poisoned buffers and a named-tolerance
 * comparison against float64 references (|got - ref| <= ATOL + RTOL * (|ref| + rms(ref row))). */
#ifndef TEST_KERNELS_COMMON_H
#define TEST_KERNELS_COMMON_H
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KT_ATOL 1e-6
#define KT_RTOL 2e-4 /* f32 accumulation over a few hundred terms vs float64 */

static inline uint64_t kt_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static inline double kt_unif(uint64_t *s) { return (double)(kt_next(s) >> 11) * (1.0 / 9007199254740992.0); }
static inline double kt_gauss(uint64_t *s) {
  double u1 = kt_unif(s), u2 = kt_unif(s);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
static inline void kt_fill_gauss(float *v, size_t n, double scale, uint64_t *s) {
  for (size_t i = 0; i < n; i++) v[i] = (float)(scale * kt_gauss(s));
}
static inline void kt_poison(float *v, size_t n) {
  for (size_t i = 0; i < n; i++) v[i] = NAN;
}

/* Returns the number of elements outside tolerance (prints the first). rows of width d. */
static inline int kt_mismatches(const float *got, const double *ref, int rows, int d, const char *what) {
  int bad = 0;
  for (int r = 0; r < rows; r++) {
    double rms = 0.0;
    for (int j = 0; j < d; j++) rms += ref[(size_t)r * d + j] * ref[(size_t)r * d + j];
    rms = sqrt(rms / d);
    for (int j = 0; j < d; j++) {
      double g = got[(size_t)r * d + j], e = ref[(size_t)r * d + j];
      if (!(fabs(g - e) <= KT_ATOL + KT_RTOL * (fabs(e) + rms))) {
        if (!bad) fprintf(stderr, "%s: row %d col %d got %.9g want %.9g\n", what, r, j, g, e);
        bad++;
      }
    }
  }
  return bad;
}
#endif
