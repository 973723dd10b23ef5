/* sw_provenance: assembles the provenance of one `sparsweep run` (the store's sw_provenance_t) on rank 0:
 * the build (git commit, dirty flag, compiler, flags from the generated sw_build_info.h), rank 0's host (/proc),
 * the host of every rank, the MPI library version, the worker-side environment (OpenBLAS, PAPI: a worker sends
 * them in its hello, see workers/sw_worker_rank.h), the relevant environment variables plus rank 0's host, pid
 * and start time (sw_stale.h), and the stable machine fingerprint.  The struct owns every string it points to. */
#ifndef SW_PROVENANCE_H
#define SW_PROVENANCE_H

#include "common/sw_err.h"
#include "results/sw_store.h"

/* Build facts, normally SW_VERSION, SW_GIT_COMMIT, SW_GIT_DIRTY, SW_COMPILER, SW_C_FLAGS, SW_KERNEL_C_FLAGS. */
typedef struct sw_build_info {
  const char *version;    /* "0.1.0" */
  const char *git_commit; /* 40 hex digits or "unknown" */
  int         git_dirty;  /* 1 modified tree, 0 clean, -1 unknown */
  const char *compiler;   /* "GNU-12.2.0" */
  const char *c_flags;    /* compile flags of the build */
  const char *kernel_c_flags; /* compile flags of the kernels (SW_KERNEL_C_FLAGS: -march, -O3, ...) */
} sw_build_info_t;

typedef struct sw_run_provenance {
  sw_provenance_t prov;              /* what sw_store_run_begin takes; points into the fields below */
  sw_host_info_t  host;              /* rank 0's host */
  char           *hosts_json;        /* owned: JSON array of the distinct hosts of all ranks, rank order */
  char           *env_json;          /* owned: relevant environment variables */
  char           *mpi_version;       /* owned: first line of MPI_Get_library_version, or "none" */
  char           *openblas_version;  /* owned: from the worker info, NULL when absent */
  char           *openblas_core;     /* owned */
  char           *papi_version;      /* owned */
  char           *papi_presets_json; /* owned: JSON array */
  char           *command_line;      /* owned: argv joined by spaces */
  char            fingerprint[17];   /* sw_machine_fingerprint of prov */
} sw_run_provenance_t;

/* Fills rp.  hosts[n_ranks] are the host names by rank (hosts[0] = rank 0).  worker_info_json is the
 * JSON object sent by a worker (or computed locally with -np 1): keys "openblas_config",
 * "openblas_corename", "papi" {"papi_version", "presets_available": [..]}; NULL, unparsable or missing
 * keys leave those facts NULL (recorded as SQL NULL).  spec_* describe the experiment.  mpi_initialized = 0 skips nothing (the MPI
 * version query is legal before MPI_Init).  On error everything is freed.  Free with sw_run_provenance_free. */
sw_rc sw_run_provenance_init(sw_run_provenance_t *rp, const sw_build_info_t *build, const char *spec_name,
                             const char *spec_text, const char *spec_hash, const char *const *hosts, int n_ranks,
                             const char *worker_info_json, int argc, char **argv, sw_err_t *err);
/* Frees the owned strings and zeroes rp (safe on a zeroed struct, idempotent). */
void sw_run_provenance_free(sw_run_provenance_t *rp);

#endif
