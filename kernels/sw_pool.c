/* sw_pool: fork-join worker pool (pthreads).  A job is published by bumping `gen` under the mutex; workers
 * spin for a short while on the atomic generation before sleeping on the condition variable, and the caller
 * spins (with yields) on the `done` counter. */
#include "kernels/sw_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#define SW_POOL_SPIN 20000

struct sw_pool {
  int             n_threads;
  pthread_t      *threads;
  pthread_mutex_t mu;
  pthread_cond_t  cv;
  atomic_uint     gen;
  atomic_int      done;
  int             stop;
  sw_pool_fn      fn;
  void           *arg;
};

typedef struct sw_pool_start {
  sw_pool_t *pool;
  int        tid;
} sw_pool_start_t;

static unsigned sw_pool_wait_gen(sw_pool_t *p, unsigned seen) {
  for (int i = 0; i < SW_POOL_SPIN; i++) {
    unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);
    if (g != seen) return g;
  }
  pthread_mutex_lock(&p->mu);
  unsigned g;
  while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen) pthread_cond_wait(&p->cv, &p->mu);
  pthread_mutex_unlock(&p->mu);
  return g;
}

static void *sw_pool_main(void *v) {
  sw_pool_start_t st = *(sw_pool_start_t *)v;
  free(v);
  sw_pool_t *p = st.pool;
  unsigned   seen = 0;
  for (;;) {
    seen = sw_pool_wait_gen(p, seen);
    pthread_mutex_lock(&p->mu);
    int stop = p->stop;
    sw_pool_fn fn = p->fn;
    void *arg = p->arg;
    pthread_mutex_unlock(&p->mu);
    if (stop) return NULL;
    fn(arg, st.tid, p->n_threads);
    atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel);
  }
}

sw_rc sw_pool_create(sw_pool_t **pool, int n_threads, sw_err_t *err) {
  if (n_threads < 2) return sw_err_set(err, SW_ERR_INVALID, "sw_pool_create: n_threads %d < 2", n_threads);
  sw_pool_t *p = calloc(1, sizeof *p);
  if (!p) return sw_err_set(err, SW_ERR_NOMEM, "sw_pool_create: out of memory");
  p->threads = calloc((size_t)n_threads, sizeof *p->threads);
  if (!p->threads) {
    free(p);
    return sw_err_set(err, SW_ERR_NOMEM, "sw_pool_create: out of memory");
  }
  p->n_threads = n_threads;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  atomic_init(&p->gen, 0);
  atomic_init(&p->done, 0);
  for (int t = 1; t < n_threads; t++) {
    sw_pool_start_t *st = malloc(sizeof *st);
    if (st) *st = (sw_pool_start_t){p, t};
    if (!st || pthread_create(&p->threads[t], NULL, sw_pool_main, st) != 0) {
      free(st);
      p->n_threads = t; /* destroy joins the ones started */
      sw_pool_destroy(p);
      return sw_err_set(err, SW_ERR_INTERNAL, "sw_pool_create: cannot start thread %d", t);
    }
  }
  *pool = p;
  return SW_OK;
}

void sw_pool_run(sw_pool_t *p, sw_pool_fn fn, void *arg) {
  pthread_mutex_lock(&p->mu);
  p->fn = fn;
  p->arg = arg;
  atomic_store_explicit(&p->done, 0, memory_order_relaxed);
  atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  fn(arg, 0, p->n_threads);
  int spins = 0;
  while (atomic_load_explicit(&p->done, memory_order_acquire) < p->n_threads - 1) {
    if (++spins > SW_POOL_SPIN) sched_yield();
  }
}

int sw_pool_threads(const sw_pool_t *p) { return p->n_threads; }

void sw_pool_destroy(sw_pool_t *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  for (int t = 1; t < p->n_threads; t++) pthread_join(p->threads[t], NULL);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p->threads);
  free(p);
}
