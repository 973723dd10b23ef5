/* sw_slot: host-wide measurement slots (see workers/sw_slot.h). */
#include "experiments/sw_keys.h"
#include "workers/sw_slot.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sw_time.h"

sw_rc sw_slot_mode_parse(const char *name, sw_slot_mode *mode, sw_err_t *err) {
  if (strcmp(name, "node") == 0) *mode = SW_SLOT_NODE;
  else if (strcmp(name, "socket") == 0) *mode = SW_SLOT_SOCKET;
  else if (strcmp(name, "none") == 0) *mode = SW_SLOT_NONE;
  else return sw_err_set(err, SW_ERR_INVALID, "exclusive: unknown value '%s' (expected node|socket|none)", name);
  return SW_OK;
}

/* The directory for lock files: $SW_SLOT_DIR, else /dev/shm (host-local memory), else /tmp. */
static const char *slot_dir(void) {
  const char *env = getenv("SW_SLOT_DIR");
  struct stat st;
  if (env && *env) return env;
  if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0) return "/dev/shm";
  return "/tmp";
}

/* The CPU package of the CPU this process runs on now (0 when unknown). */
static int current_package(void) {
  int cpu = sched_getcpu();
  char path[128];
  int pkg = 0;
  if (cpu < 0) return 0;
  snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  if (fscanf(f, "%d", &pkg) != 1 || pkg < 0) pkg = 0;
  fclose(f);
  return pkg;
}

void sw_slot_path(sw_slot_mode mode, int package, char *dst, size_t cap) {
  char host[256];
  if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "unknown");
  host[sizeof host - 1] = '\0';
  for (char *p = host; *p; p++)
    if (*p == '/') *p = '_';
  if (mode == SW_SLOT_SOCKET) snprintf(dst, cap, "%s/sparsweep-slot-%s-pkg%d.lock", slot_dir(), host, package);
  else snprintf(dst, cap, "%s/sparsweep-slot-%s.lock", slot_dir(), host);
}

sw_rc sw_slot_acquire(sw_slot_t *slot, const sw_json_t *config, sw_err_t *err) {
  const char *name = NULL;
  slot->fd = -1;
  slot->wait_s = 0;
  slot->mode = SW_SLOT_NODE;
  name = "node"; /* declared without default: absent means node */
  sw_rc rc = sw_key_str(sw_keytable("measure"), config, "exclusive", &name, err);
  if (rc == SW_OK) rc = sw_slot_mode_parse(name, &slot->mode, err);
  if (rc != SW_OK || slot->mode == SW_SLOT_NONE) return rc;
  char path[512];
  sw_slot_path(slot->mode, current_package(), path, sizeof path);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return sw_err_set(err, SW_ERR_IO, "measurement slot %s: %s", path, strerror(errno));
  int64_t t0 = sw_now_ns();
  while (flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    int e = errno;
    close(fd);
    return sw_err_set(err, SW_ERR_IO, "measurement slot %s: flock: %s", path, strerror(e));
  }
  slot->wait_s = (double)(sw_now_ns() - t0) * 1e-9;
  slot->fd = fd;
  return SW_OK;
}

void sw_slot_release(sw_slot_t *slot, sw_trial_out_t *out) {
  if (slot->fd >= 0) {
    (void)flock(slot->fd, LOCK_UN);
    close(slot->fd);
    slot->fd = -1;
  }
  if (out) {
    sw_trial_out_metric(out, "slot_wait", slot->wait_s, "s");
    sw_trial_out_metric(out, "slot_mode", (double)slot->mode, "enum");
  }
}
