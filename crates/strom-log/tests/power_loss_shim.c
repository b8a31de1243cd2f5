/* LD_PRELOAD shim for tests/power_loss.rs: after each successful fsync or fdatasync of a regular
 * file, appends "<size when the sync began> <path>" to $POWER_LOSS_SYNC_LOG. The size is taken
 * before the sync, so it never claims more than the sync covered. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void record(int fd, long long size) {
  const char *log = getenv("POWER_LOSS_SYNC_LOG");
  char link[64], path[4096], line[4200];
  if (!log || size < 0) return;
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n < 0) return;
  path[n] = 0;
  int len = snprintf(line, sizeof line, "%lld %s\n", size, path);
  int out = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (out < 0) return;
  if (write(out, line, len) != len) abort();
  close(out);
}

static long long size_of(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return -1;
  return (long long)st.st_size;
}

int fsync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  long long size = size_of(fd);
  int r = real(fd);
  if (r == 0) record(fd, size);
  return r;
}

int fdatasync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  long long size = size_of(fd);
  int r = real(fd);
  if (r == 0) record(fd, size);
  return r;
}
