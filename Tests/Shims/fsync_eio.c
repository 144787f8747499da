// An LD_PRELOAD shim for MachineFaultTests (issue 17, item 5): fsync and fdatasync fail with
// EIO, as a dying disk makes them, while the file named by LINKCORE_FSYNC_EIO_TRIGGER exists;
// otherwise they are the C library's. The test builds it with `cc` and preloads it into
// linkcored only (through the child's environment), then creates the trigger at the moment it
// chooses. Each failure is reported once on stderr (the daemon's log) so that the test can tell
// the shim fired. Built like Benchmarks/alloc/malloc_count.c.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int failing(const char *name) {
    const char *trigger = getenv("LINKCORE_FSYNC_EIO_TRIGGER");
    if (trigger == NULL || access(trigger, F_OK) != 0) return 0;
    static int reported;
    if (!__atomic_exchange_n(&reported, 1, __ATOMIC_RELAXED)) {
        fprintf(stderr, "fsync_eio shim: %s fails with EIO from now on\n", name);
    }
    errno = EIO;
    return 1;
}

int fsync(int fd) {
    static int (*real)(int);
    if (failing("fsync")) return -1;
    if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (failing("fdatasync")) return -1;
    if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    return real(fd);
}
