// Allocation counter for the allocation benchmark (Benchmarks/run-alloc-counts.sh; issue 18).
//
// LD_PRELOAD'ed into a process, it counts that process's calls to the C allocator (Swift's
// objects, arrays, strings and NIO's buffers all end in malloc) in a small file mapped shared
// (LINKCORE_ALLOC_COUNTS=path), so that another process (the bench) reads the counters before
// and after a phase without any hook in the daemon. Only a process whose name is
// LINKCORE_ALLOC_COUNT_PROCESS (default "linkcored") counts: the bench that starts the core
// inherits LD_PRELOAD too and must not write the same counters.
//
// It forwards to glibc's __libc_* entry points, not dlsym(RTLD_NEXT): dlsym itself allocates,
// which would recurse before the forwarders are known.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

// The file's layout (little-endian uint64 each), read by the bench: allocations (malloc, calloc,
// a realloc of NULL, the aligned variants), frees (of non-NULL), reallocs that moved or grew an
// existing block, bytes requested by all of them.
struct counters { uint64_t allocs, frees, reallocs, bytes; };

static struct counters *shared;

__attribute__((constructor)) static void counter_init(void) {
    const char *path = getenv("LINKCORE_ALLOC_COUNTS");
    const char *want = getenv("LINKCORE_ALLOC_COUNT_PROCESS");
    if (!path || strcmp(program_invocation_short_name, want ? want : "linkcored") != 0) return;
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    if (fd < 0) return;
    if (ftruncate(fd, sizeof(struct counters)) == 0) {
        void *map = mmap(NULL, sizeof(struct counters), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (map != MAP_FAILED) shared = map;
    }
    close(fd);
}

enum { ALLOCS, FREES, REALLOCS, BYTES };

static inline void count(int field, uint64_t n) {
    if (shared) __atomic_fetch_add(&((uint64_t *)shared)[field], n, __ATOMIC_RELAXED);
}

void *malloc(size_t size) {
    count(ALLOCS, 1), count(BYTES, size);
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size) {
    count(ALLOCS, 1), count(BYTES, n * size);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size) {
    if (p) count(REALLOCS, 1); else count(ALLOCS, 1);
    count(BYTES, size);
    return __libc_realloc(p, size);
}

void free(void *p) {
    if (p) count(FREES, 1);
    __libc_free(p);
}

void *memalign(size_t alignment, size_t size) {
    count(ALLOCS, 1), count(BYTES, size);
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    return memalign(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    void *p = memalign(alignment, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
