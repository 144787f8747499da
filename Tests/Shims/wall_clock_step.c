// An LD_PRELOAD shim for ClockJumpTests (issue 17, item 5): it steps the wall clock as an NTP
// step or `date -s` does. CLOCK_REALTIME (and its coarse and TAI forms), gettimeofday and time
// read the real clock plus an offset in milliseconds, which the test writes as decimal text to
// the file named by LINKCORE_WALL_CLOCK_OFFSET_FILE; the monotonic and boot-time clocks, and
// every timer, are left alone, as a step leaves them.
//
// Why not libfaketime: its timerfd_settime wrapper shifts timers armed on CLOCK_MONOTONIC by the
// fake offset even with FAKETIME_DONT_FAKE_MONOTONIC=1 (shown by a C probe: a one-second
// monotonic timer armed under FAKETIME="-2h" did not fire within three seconds). After a step
// back every dispatch timer of the process (Task.sleep) then stalled for the step's length: no
// access-log checkpoint was signed for as long. That is the tool's fault, not one a real step
// causes, so the test steps the clock with this instead.
//
// The file is read at every call (one pread from the page cache): a torn or empty read while the
// test rewrites it keeps the last offset read. Built with `cc` by the test, like fsync_eio.c.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int64_t offset_ms(void) {
    static int fd = -2;
    static int64_t last;
    if (fd == -2) {
        const char *path = getenv("LINKCORE_WALL_CLOCK_OFFSET_FILE");
        fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    }
    if (fd < 0) return 0;
    char text[32];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    if (n <= 0) return __atomic_load_n(&last, __ATOMIC_RELAXED);
    text[n] = 0;
    char *end;
    long long value = strtoll(text, &end, 10);
    if (end == text || (*end != '\n' && *end != 0)) return __atomic_load_n(&last, __ATOMIC_RELAXED);
    __atomic_store_n(&last, (int64_t)value, __ATOMIC_RELAXED);
    return value;
}

static void shift(struct timespec *ts) {
    int64_t ns = (int64_t)ts->tv_nsec + offset_ms() * 1000000;
    ts->tv_sec += ns / 1000000000;
    ns %= 1000000000;
    if (ns < 0) { ns += 1000000000; ts->tv_sec -= 1; }
    ts->tv_nsec = ns;
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    static int (*real)(clockid_t, struct timespec *);
    if (real == NULL) real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int status = real(clock, ts);
    if (status == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE || clock == CLOCK_TAI)) shift(ts);
    return status;
}

int gettimeofday(struct timeval *tv, void *tz) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return -1;
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
    (void)tz;
    return 0;
}

time_t time(time_t *out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out != NULL) *out = ts.tv_sec;
    return ts.tv_sec;
}
