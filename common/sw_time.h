/* sw_time: clock helpers, header-only.  sw_now_ns is for intervals (CLOCK_MONOTONIC), sw_wall_s for
 * timestamps stored in the database (CLOCK_REALTIME), sw_cpu_s for the process's CPU time. */
#ifndef SW_TIME_H
#define SW_TIME_H
#include <stdint.h>
#include <time.h>

/* Monotonic nanoseconds since an arbitrary origin: subtract two readings for an interval. */
static inline int64_t sw_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Wall-clock seconds since the Unix epoch, for timestamps stored in the database. */
static inline double sw_wall_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds (user + system, all threads) this process has used: a forked child starts from zero. */
static inline double sw_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
#endif
