/* sw_cli_input: checks on an input path before a loader opens it.  open() of a FIFO blocks until a writer
 * appears (a `plan` or `model inspect` given a named pipe would hang for ever), and a byte-order mark in
 * front of YAML makes the parser report a confusing error at 1:1; both are refused here with a message that
 * names the file and says what to do. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/sw_cli.h"

static const char *s_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

/* 1 when the file starts with the UTF-8 byte-order mark EF BB BF (read without blocking). */
static int s_has_bom(const char *path) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return 0;
  unsigned char head[3] = {0};
  ssize_t n = read(fd, head, sizeof head);
  close(fd);
  return n == 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF;
}

int sw_cli_check_input(const char *path, int text, char *why, size_t why_len) {
  struct stat sb;
  if (stat(path, &sb) != 0) return 0; /* missing or unreadable: the loader reports it with its own message */
  if (!S_ISREG(sb.st_mode)) {
    snprintf(why, why_len, "'%s' is %s, not a regular file: give the path of the file itself", path,
             s_kind(sb.st_mode));
    return -1;
  }
  if (text && s_has_bom(path)) {
    snprintf(why, why_len, "'%s' starts with a UTF-8 byte-order mark (bytes EF BB BF), which YAML files here must "
             "not have: save it as UTF-8 without BOM", path);
    return -1;
  }
  return 0;
}
