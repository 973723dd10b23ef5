/* sw_store_host: provenance helpers for the runs table (host facts from /proc, the relevant environment
 * as JSON, a stable machine fingerprint) and the file-system check that warns when a database would sit on
 * a network file system, where SQLite locking and WAL shared memory are unreliable (sqlite.org faq.html#q5,
 * wal.html). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <libgen.h>
#include <errno.h>

#include "common/sw_hash.h"
#include "results/sw_store.h"

extern char **environ;

/* ---- host facts ---------------------------------------------------------------------------------- */

static void read_cpu_model(char *out, size_t n) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[512];
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) != 0) continue;
    const char *colon = strchr(line, ':');
    if (!colon) continue;
    colon += 1 + (colon[1] == ' ');
    snprintf(out, n, "%s", colon);
    out[strcspn(out, "\n")] = '\0';
    break;
  }
  fclose(f);
}

static int64_t read_mem_total(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  char line[256];
  long long kib = 0;
  if (!f) return 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "MemTotal: %lld kB", &kib) == 1) break;
  fclose(f);
  return (int64_t)kib * 1024;
}

/* The CPU identity fields of /proc/cpuinfo (x86 and aarch64 spellings) and the ISA flags that matter. */
typedef struct cpu_fields {
  char vendor[64], family[16], model[16], stepping[16];      /* x86: vendor_id, cpu family, model, stepping */
  char implementer[16], part[16], variant[16], revision[16]; /* aarch64: CPU implementer, part, ... */
  char isa[128];
} cpu_fields_t;

static const char *const sw_cpu_isa_flags[] = {"avx2", "avx512f", "avx512_bf16", "amx_tile", "asimd", "sve"};

/* 1 when the space-separated list has the word. */
static int has_word(const char *list, const char *word) {
  size_t n = strlen(word);
  for (const char *p = strstr(list, word); p; p = strstr(p + 1, word))
    if ((p == list || p[-1] == ' ' || p[-1] == '\t') && (p[n] == '\0' || p[n] == ' ' || p[n] == '\n')) return 1;
  return 0;
}

static void isa_of(const char *flags, char *out, size_t n) {
  out[0] = '\0';
  for (size_t i = 0; i < sizeof sw_cpu_isa_flags / sizeof sw_cpu_isa_flags[0]; i++) {
    if (!has_word(flags, sw_cpu_isa_flags[i])) continue;
    size_t used = strlen(out);
    snprintf(out + used, n - used, "%s%s", used ? "," : "", sw_cpu_isa_flags[i]);
  }
}

/* Stores value under the field named key (tabs and spaces around both removed). */
static void cpu_field(cpu_fields_t *f, const char *key, const char *value) {
  static const struct { const char *key; size_t off, cap; } map[] = {
      {"vendor_id", offsetof(cpu_fields_t, vendor), 64},         {"cpu family", offsetof(cpu_fields_t, family), 16},
      {"model", offsetof(cpu_fields_t, model), 16},              {"stepping", offsetof(cpu_fields_t, stepping), 16},
      {"CPU implementer", offsetof(cpu_fields_t, implementer), 16}, {"CPU part", offsetof(cpu_fields_t, part), 16},
      {"CPU variant", offsetof(cpu_fields_t, variant), 16},      {"CPU revision", offsetof(cpu_fields_t, revision), 16}};
  if (strcmp(key, "flags") == 0 || strcmp(key, "Features") == 0) {
    isa_of(value, f->isa, sizeof f->isa);
    return;
  }
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp(key, map[i].key) == 0) snprintf((char *)f + map[i].off, map[i].cap, "%s", value);
}

/* Splits "key<tabs>: value" in place; returns 0 when the line has no colon. */
static int split_line(char *line, char **key, char **value) {
  char *colon = strchr(line, ':');
  if (!colon) return 0;
  char *end = colon;
  while (end > line && (end[-1] == ' ' || end[-1] == '\t')) end--;
  *end = '\0';
  *key = line;
  *value = colon + 1 + (colon[1] == ' ');
  (*value)[strcspn(*value, "\n")] = '\0';
  return 1;
}

void sw_cpu_id_read(const char *cpuinfo_path, char *out, size_t n) {
  char         line[8192]; /* x86 flags lines run to ~1.5 KB */
  cpu_fields_t f;
  memset(&f, 0, sizeof f);
  out[0] = '\0';
  FILE *fp = fopen(cpuinfo_path, "r");
  if (!fp) return;
  int seen = 0;
  while (fgets(line, sizeof line, fp)) {
    char *key, *value;
    if (line[0] == '\n' && seen) break; /* end of the first processor's block */
    if (!split_line(line, &key, &value)) continue;
    cpu_field(&f, key, value);
    seen = 1;
  }
  fclose(fp);
  if (f.vendor[0] || f.family[0])
    snprintf(out, n, "x86 vendor=%s family=%s model=%s stepping=%s isa=%s", f.vendor, f.family, f.model, f.stepping,
             f.isa);
  else if (f.implementer[0])
    snprintf(out, n, "arm implementer=%s part=%s variant=%s revision=%s isa=%s", f.implementer, f.part, f.variant,
             f.revision, f.isa);
}

void sw_host_info_read(sw_host_info_t *info) {
  memset(info, 0, sizeof *info);
  if (gethostname(info->hostname, sizeof info->hostname - 1) != 0) info->hostname[0] = '\0';
  read_cpu_model(info->cpu_model, sizeof info->cpu_model);
  sw_cpu_id_read("/proc/cpuinfo", info->cpu_id, sizeof info->cpu_id);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  info->cores = n > 0 ? (int)n : 0;
  info->mem_bytes = read_mem_total();
}

/* ---- environment --------------------------------------------------------------------------------- */

/* Variables whose value can change a measurement or identifies the job. */
static const char sw_env_prefixes[][20] = {"OPENBLAS_", "OMP_",       "GOMP_",        "KMP_",
                                              "OMPI_MCA_", "PAPI_",      "SW_",          "SLURM_JOB_ID",
                                              "SLURM_ARRAY_", "SLURM_NNODES", "SLURM_NTASKS", "LD_PRELOAD",
                                              "LD_LIBRARY_PATH", "MKL_",  "GOTO_NUM_THREADS",
                                              "SPARSWEEP_"};

static int env_relevant(const char *entry) {
  for (size_t i = 0; i < sizeof sw_env_prefixes / sizeof sw_env_prefixes[0]; i++)
    if (strncmp(entry, sw_env_prefixes[i], strlen(sw_env_prefixes[i])) == 0) return 1;
  return 0;
}

/* An environ entry and its place in environ. */
typedef struct env_entry {
  const char *text;
  size_t      at;
} env_entry_t;

static size_t env_name_len(const char *e) {
  const char *eq = strchr(e, '=');
  return eq ? (size_t)(eq - e) : strlen(e);
}

/* By name, and entries of one name by their place in environ. */
static int cmp_env(const void *a, const void *b) {
  const env_entry_t *x = a, *y = b;
  size_t lx = env_name_len(x->text), ly = env_name_len(y->text);
  int c = memcmp(x->text, y->text, lx < ly ? lx : ly);
  if (c || lx != ly) return c ? c : (lx > ly) - (lx < ly);
  return (x->at > y->at) - (x->at < y->at);
}

/* The relevant variables as one JSON object, sorted by name.  environ as execve may leave it: an entry without
 * '=' is skipped, and of a name given twice the first is kept, the value getenv returns. */
void sw_store_env_json(sw_buf_t *dst) {
  size_t n = 0, k = 0;
  for (char **e = environ; e && *e; e++) n += env_relevant(*e);
  env_entry_t *list = malloc((n ? n : 1) * sizeof *list);
  if (!list) {
    dst->oom = 1;
    return;
  }
  for (size_t i = 0; environ && environ[i] && k < n; i++)
    if (env_relevant(environ[i]) && strchr(environ[i], '=')) list[k++] = (env_entry_t){environ[i], i};
  qsort(list, k, sizeof *list, cmp_env);
  sw_buf_puts(dst, "{");
  for (size_t i = 0, written = 0; i < k; i++) {
    const char *e = list[i].text;
    const size_t len = env_name_len(e);
    if (i && len == env_name_len(list[i - 1].text) && memcmp(list[i - 1].text, e, len) == 0) continue;
    if (written++) sw_buf_puts(dst, ",");
    sw_buf_json_string(dst, e, len);
    sw_buf_puts(dst, ":");
    sw_buf_json_string(dst, e + len + 1, strlen(e + len + 1));
  }
  sw_buf_puts(dst, "}");
  free(list);
}

/* ---- fingerprint --------------------------------------------------------------------------------- */

/* MemTotal is always a little below the installed size and moves by a few MiB between kernels, so round up
 * to whole GiB and then to an even number: 23.4 GiB (24 installed) -> 24, 15.6 -> 16, 62.8 -> 64. */
static long long mem_bucket_gib(int64_t bytes) {
  if (bytes <= 0) return 0;
  long long gib = (long long)((bytes + (1LL << 30) - 1) >> 30);
  return gib + (gib & 1);
}

void sw_machine_fingerprint(const sw_provenance_t *prov, char out[17]) {
  char text[1024];
  char hex[65];
  snprintf(text, sizeof text, "cpu_model=%s\ncpu_id=%s\ncores=%d\nmem_gib=%lld\nopenblas_core=%s\n",
           prov->cpu_model ? prov->cpu_model : "", prov->cpu_id ? prov->cpu_id : "", prov->cores,
           mem_bucket_gib(prov->mem_bytes),
           prov->openblas_core ? prov->openblas_core : "");
  sw_sha256_hex(text, strlen(text), hex);
  memcpy(out, hex, 16);
  out[16] = '\0';
}

/* ---- file systems -------------------------------------------------------------------------------- */

typedef struct sw_fs_kind {
  uint32_t    magic;   /* statfs f_type */
  char        name[12];
  int         network; /* 1 when SQLite locking/WAL cannot be trusted there */
} sw_fs_kind_t;

/* Magic numbers: linux/magic.h (NFS_SUPER_MAGIC, SMB_SUPER_MAGIC, CIFS_SUPER_MAGIC, SMB2_SUPER_MAGIC,
 * AFS_SUPER_MAGIC, AFS_FS_MAGIC, CEPH_SUPER_MAGIC, CODA_SUPER_MAGIC, V9FS_MAGIC, OCFS2_SUPER_MAGIC);
 * Lustre LL_SUPER_MAGIC from lustre/include/uapi/linux/lustre/lustre_user.h; GPFS ("GPFS" in ASCII),
 * BeeGFS/FhGFS and PanFS as listed by GNU coreutils src/stat.c (human_fstype). */
static const sw_fs_kind_t sw_fs_kinds[] = {
    {0x6969u, "nfs", 1},          {0x517Bu, "smb", 1},       {0xFF534D42u, "cifs", 1}, {0xFE534D42u, "smb2", 1},
    {0x0BD00BD0u, "lustre", 1},   {0x47504653u, "gpfs", 1},  {0x19830326u, "beegfs", 1},
    {0xAAD7AAEAu, "panfs", 1},    {0x5346414Fu, "afs", 1},   {0x6B414653u, "afs", 1},  {0x00C36400u, "ceph", 1},
    {0x73757245u, "coda", 1},     {0x01021997u, "9p", 1},    {0x7461636Fu, "ocfs2", 1},
    {0x65735546u, "fuse", 0},     {0xEF53u, "ext4", 0},      {0x58465342u, "xfs", 0},  {0x9123683Eu, "btrfs", 0},
    {0x01021994u, "tmpfs", 0},    {0x794C7630u, "overlayfs", 0}};

void sw_fs_classify(uint64_t f_type, sw_fs_check_t *out) {
  uint32_t magic = (uint32_t)(f_type & 0xFFFFFFFFu);
  out->network = 0;
  snprintf(out->fs_name, sizeof out->fs_name, "local");
  for (size_t i = 0; i < sizeof sw_fs_kinds / sizeof sw_fs_kinds[0]; i++)
    if (sw_fs_kinds[i].magic == magic) {
      out->network = sw_fs_kinds[i].network;
      snprintf(out->fs_name, sizeof out->fs_name, "%s", sw_fs_kinds[i].name);
      return;
    }
}

sw_rc sw_fs_check_path(const char *path, sw_fs_check_t *out, sw_err_t *err) {
  char *copy = strdup(path);
  if (!copy) return sw_err_set(err, SW_ERR_NOMEM, "out of memory");
  const char *dir = dirname(copy);
  struct statfs sf;
  sw_rc rc = SW_OK;
  if (statfs(dir, &sf) != 0) rc = sw_err_set(err, SW_ERR_IO, "cannot statfs directory '%s': %s", dir, strerror(errno));
  else sw_fs_classify((uint64_t)sf.f_type, out);
  free(copy);
  return rc;
}
