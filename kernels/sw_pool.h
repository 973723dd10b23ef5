/* sw_pool: a tiny fork-join pool of persistent worker threads for the sparse kernels (n_threads - 1 workers
 * plus the calling thread).  Workers spin briefly on a generation counter, then sleep on a condition variable,
 * so an idle pool costs nothing on a shared machine. */
#ifndef SW_POOL_H
#define SW_POOL_H
#include "common/sw_err.h"

typedef struct sw_pool sw_pool_t;
/* fn(arg, tid, n_threads) runs once per thread; tid 0 is the caller. */
typedef void (*sw_pool_fn)(void *arg, int tid, int n_threads);

/* Creates a pool for n_threads >= 2 threads in total. */
sw_rc sw_pool_create(sw_pool_t **pool, int n_threads, sw_err_t *err);
/* Runs fn on every thread and returns when all have finished. */
void  sw_pool_run(sw_pool_t *pool, sw_pool_fn fn, void *arg);
/* Threads in total, the caller included. */
int   sw_pool_threads(const sw_pool_t *pool);
/* Stops and joins the workers and frees the pool; NULL is a no-op. */
void  sw_pool_destroy(sw_pool_t *pool);

#endif
