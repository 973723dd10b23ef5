/* sw_provenance: fills the store's sw_provenance_t for one run from build facts, /proc, MPI and the
 * worker-side library facts (OpenBLAS, PAPI) received in a worker's hello. */
#include "orchestrator/sw_provenance.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_buf.h"
#include "common/sw_json.h"
#include "orchestrator/sw_stale.h"

static char *s_strdup_or_null(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* First line of the MPI library version string ("Open MPI v4.1.4, package: ..."). */
static char *s_mpi_version(void) {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  if (MPI_Get_library_version(text, &len) != MPI_SUCCESS) return s_strdup_or_null("unknown");
  text[len < MPI_MAX_LIBRARY_VERSION_STRING ? len : MPI_MAX_LIBRARY_VERSION_STRING - 1] = '\0';
  text[strcspn(text, "\r\n")] = '\0';
  return s_strdup_or_null(text);
}

static char *s_hosts_json(const char *const *hosts, int n) {
  sw_buf_t b = SW_BUF_INIT;
  int first = 1;
  sw_buf_puts(&b, "[");
  for (int i = 0; i < n; i++) {
    int seen = 0;
    for (int j = 0; j < i && !seen; j++) seen = strcmp(hosts[i], hosts[j]) == 0;
    if (seen) continue;
    if (!first) sw_buf_puts(&b, ",");
    sw_buf_json_string(&b, hosts[i], strlen(hosts[i]));
    first = 0;
  }
  sw_buf_puts(&b, "]");
  return sw_buf_take(&b);
}

static char *s_command_line(int argc, char **argv) {
  sw_buf_t b = SW_BUF_INIT;
  for (int i = 0; i < argc; i++) {
    if (i) sw_buf_puts(&b, " ");
    sw_buf_puts(&b, argv[i]);
  }
  sw_buf_puts(&b, "");
  return sw_buf_take(&b);
}

/* Copies the worker's library facts; tolerant: missing or mistyped keys stay NULL. */
static void s_worker_facts(sw_run_provenance_t *rp, const char *worker_info_json) {
  sw_json_t *doc = NULL;
  sw_err_t ignored;
  if (!worker_info_json || sw_json_parse(worker_info_json, strlen(worker_info_json), &doc, &ignored) != SW_OK)
    return;
  const sw_json_t *v;
  if ((v = sw_json_get(doc, "openblas_config")) && v->kind == SW_JSON_STRING)
    rp->openblas_version = s_strdup_or_null(v->string);
  if ((v = sw_json_get(doc, "openblas_corename")) && v->kind == SW_JSON_STRING)
    rp->openblas_core = s_strdup_or_null(v->string);
  const sw_json_t *papi = sw_json_get(doc, "papi");
  if ((v = sw_json_get(papi, "papi_version")) && v->kind == SW_JSON_STRING)
    rp->papi_version = s_strdup_or_null(v->string);
  if ((v = sw_json_get(papi, "presets_available")) && v->kind == SW_JSON_ARRAY) {
    sw_buf_t b = SW_BUF_INIT;
    sw_buf_puts(&b, "[");
    for (size_t i = 0, n = 0; i < v->count; i++) {
      if (v->items[i].kind != SW_JSON_STRING) continue;
      if (n++) sw_buf_puts(&b, ",");
      sw_buf_json_string(&b, v->items[i].string, v->items[i].string_len);
    }
    sw_buf_puts(&b, "]");
    rp->papi_presets_json = sw_buf_take(&b);
  }
  sw_json_free(doc);
}

sw_rc sw_run_provenance_init(sw_run_provenance_t *rp, const sw_build_info_t *build, const char *spec_name,
                             const char *spec_text, const char *spec_hash, const char *const *hosts, int n_ranks,
                             const char *worker_info_json, int argc, char **argv, sw_err_t *err) {
  memset(rp, 0, sizeof *rp);
  sw_host_info_read(&rp->host);
  sw_buf_t env = SW_BUF_INIT;
  sw_store_env_json(&env);
  if (n_ranks >= 1) sw_stale_stamp_env(&env, hosts[0]); /* lets a later run tell that this one was killed */
  rp->env_json = sw_buf_take(&env);
  rp->hosts_json = s_hosts_json(hosts, n_ranks);
  rp->mpi_version = s_mpi_version();
  rp->command_line = s_command_line(argc, argv);
  if (!rp->env_json || !rp->hosts_json || !rp->mpi_version || !rp->command_line) {
    sw_run_provenance_free(rp);
    return sw_err_set(err, SW_ERR_NOMEM, "out of memory while collecting run provenance");
  }
  s_worker_facts(rp, worker_info_json);
  sw_provenance_t *p = &rp->prov;
  p->spec_name = spec_name;
  p->spec_text = spec_text;
  p->spec_hash = spec_hash;
  p->sw_version = build->version;
  p->git_commit = build->git_commit;
  p->git_dirty = build->git_dirty;
  p->hosts_json = rp->hosts_json;
  p->n_ranks = n_ranks;
  p->cpu_model = rp->host.cpu_model;
  p->cpu_id = rp->host.cpu_id[0] ? rp->host.cpu_id : NULL;
  p->cores = rp->host.cores;
  p->mem_bytes = rp->host.mem_bytes;
  p->compiler = build->compiler;
  p->cflags = build->c_flags;
  p->kernel_cflags = build->kernel_c_flags;
  p->openblas_version = rp->openblas_version;
  p->openblas_core = rp->openblas_core;
  p->mpi_version = rp->mpi_version;
  p->papi_version = rp->papi_version;
  p->papi_presets_json = rp->papi_presets_json;
  p->env_json = rp->env_json;
  p->command_line = rp->command_line;
  sw_machine_fingerprint(p, rp->fingerprint);
  p->fingerprint = rp->fingerprint;
  return SW_OK;
}

void sw_run_provenance_free(sw_run_provenance_t *rp) {
  if (!rp) return;
  free(rp->hosts_json);
  free(rp->env_json);
  free(rp->mpi_version);
  free(rp->openblas_version);
  free(rp->openblas_core);
  free(rp->papi_version);
  free(rp->papi_presets_json);
  free(rp->command_line);
  memset(rp, 0, sizeof *rp);
}
