/* loadgen: the load generator of the linkcore transport benchmark, used unchanged against
 * linkcored and against the C echo server, so their ratio isolates the server.
 *
 * usage: loadgen --host 127.0.0.1 --port P --ca ca.pem --cert client.pem --key client.key
 *                --connections C --in-flight N --seconds S --warmup W [--threads T]
 *
 * Each connection: TCP + mutual TLS 1.3 (server verified against --ca and --host), Hello
 * (id 1) -> Welcome, then N Pings pipelined; every Pong is checked (id outstanding, body is
 * Pong, payload is the one sent) and immediately replaced by a new Ping. All Pings produced in
 * one read pass go out in one SSL_write. Connections are spread over T threads (default:
 * min(C, cores)), each an epoll loop. Latency = monotonic time from the pass that queued a Ping
 * to the pass that read its Pong. Only requests started after the warm-up and answered before
 * the end count.
 *
 * Prints one line: rps=R p50_us=X p99_us=Y requests=N errors=E
 * Exit status 1 when nothing could be measured (no connection came up).
 */
#include "bench_common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HIST_BUCKETS (1u << 20) /* 1 µs buckets up to ~1 s; the last bucket is overflow */

typedef struct {
    uint64_t id;     /* 0 = free */
    uint64_t sent;   /* ns */
} slot_t;

typedef struct {
    int fd;
    SSL *ssl;
    int dead;
    int want_out;
    uint64_t next_id;
    uint64_t seed;       /* per-connection payload key */
    uint32_t outstanding;
    slot_t *slots;       /* open-addressing table of outstanding ids */
    uint32_t mask;
    buf_t in, out;
} lconn_t;

typedef struct {
    int index;
    int nconn;
    lconn_t *conns;
    int ep;
    arena_t arena;
    ProtobufCAllocator alloc;
    uint32_t *hist;
    uint64_t requests, errors, setup_failures;
    pthread_t th;
} lworker_t;

static const char *g_host = "127.0.0.1";
static int g_port = 0;
static SSL_CTX *g_ctx;
static int g_in_flight = 1;
static uint64_t g_measure_from, g_end;
static pthread_barrier_t g_ready;

/* ---- outstanding-request table -------------------------------------------------------- */

static void table_put(lconn_t *c, uint64_t id, uint64_t sent) {
    uint32_t i = (uint32_t)id & c->mask;
    while (c->slots[i].id) i = (i + 1) & c->mask;
    c->slots[i].id = id;
    c->slots[i].sent = sent;
    c->outstanding++;
}

/* Remove id; returns its send time, or 0 when it was not outstanding. */
static uint64_t table_take(lconn_t *c, uint64_t id) {
    if (id == 0) return 0;
    uint32_t i = (uint32_t)id & c->mask;
    while (c->slots[i].id != id) {
        if (!c->slots[i].id) return 0;
        i = (i + 1) & c->mask;
    }
    uint64_t sent = c->slots[i].sent;
    /* backward-shift deletion keeps linear-probe chains intact */
    for (uint32_t j = i;;) {
        j = (j + 1) & c->mask;
        if (!c->slots[j].id) break;
        uint32_t home = (uint32_t)c->slots[j].id & c->mask;
        if (i <= j ? (i < home && home <= j) : (i < home || home <= j)) continue;
        c->slots[i] = c->slots[j];
        i = j;
    }
    c->slots[i].id = 0;
    c->outstanding--;
    return sent;
}

/* ---- frames ----------------------------------------------------------------------------- */

static inline void payload_for(const lconn_t *c, uint64_t id, uint8_t out[16]) {
    uint64_t a = id * 0x9E3779B97F4A7C15ull ^ c->seed, b = c->seed + id;
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
}

static inline size_t put_varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) { p[n++] = (uint8_t)(v | 0x80); v >>= 7; }
    p[n++] = (uint8_t)v;
    return n;
}

/* Envelope{id, ping{payload}} encoded by hand (it is on the generator's hot path). */
static void queue_ping(lconn_t *c, uint64_t now) {
    uint64_t id = c->next_id++;
    buf_reserve(&c->out, 4 + 1 + 10 + 2 + 2 + 16);
    uint8_t *frame = c->out.data + c->out.len, *p = frame + 4;
    *p++ = 0x08;                  /* field 1 (id), varint */
    p += put_varint(p, id);
    *p++ = 0x22;                  /* field 4 (ping), length-delimited */
    *p++ = 18;
    *p++ = 0x0A;                  /* Ping field 1 (payload), bytes */
    *p++ = 16;
    payload_for(c, id, p);
    p += 16;
    put_be32(frame, (uint32_t)(p - frame - 4));
    c->out.len += (size_t)(p - frame);
    table_put(c, id, now);
}

/* ---- blocking setup: connect, TLS handshake, Hello/Welcome -------------------------------- */

static int read_frame_blocking(lconn_t *c, lworker_t *w, Linkcore__V1__Envelope **env, int *heap) {
    for (;;) {
        if (buf_pending(&c->in) >= 4) {
            uint32_t n = get_be32(c->in.data + c->in.off);
            if (n == 0 || n > BENCH_MAX_FRAME) return -1;
            if (buf_pending(&c->in) - 4 >= n) {
                *env = decode_envelope(&w->arena, &w->alloc, c->in.data + c->in.off + 4, n, heap);
                c->in.off += 4 + n;
                buf_consumed(&c->in);
                return *env ? 0 : -1;
            }
        }
        buf_reserve(&c->in, BENCH_READ_CHUNK);
        int r = SSL_read(c->ssl, c->in.data + c->in.len, (int)(c->in.cap - c->in.len));
        if (r <= 0) return -1;
        c->in.len += (size_t)r;
    }
}

static int conn_setup(lworker_t *w, lconn_t *c, int global_index) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", g_port);
    if (getaddrinfo(g_host, port, &hints, &ai) != 0 || !ai) return -1;
    c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = c->fd < 0 ? -1 : connect(c->fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc < 0) return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

    c->ssl = SSL_new(g_ctx);
    SSL_set_fd(c->ssl, c->fd);
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, g_host, &a4) == 1 || inet_pton(AF_INET6, g_host, &a6) == 1) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), g_host);
    } else {
        SSL_set_tlsext_host_name(c->ssl, g_host);
        SSL_set1_host(c->ssl, g_host);
    }
    if (SSL_connect(c->ssl) != 1) {
        fprintf(stderr, "loadgen: TLS handshake failed: %s\n",
                X509_verify_cert_error_string(SSL_get_verify_result(c->ssl)));
        ERR_print_errors_fp(stderr);
        return -1;
    }

    /* Hello -> Welcome */
    Linkcore__V1__Hello hello = LINKCORE__V1__HELLO__INIT;
    hello.min_version = 1;
    hello.max_version = 1;
    hello.software = "bench";
    Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
    env.id = 1;
    env.body_case = LINKCORE__V1__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    buf_append_envelope(&c->out, &env);
    if (SSL_write(c->ssl, c->out.data, (int)c->out.len) != (int)c->out.len) return -1;
    c->out.len = c->out.off = 0;
    Linkcore__V1__Envelope *rep = NULL;
    int heap = 0;
    if (read_frame_blocking(c, w, &rep, &heap) < 0) return -1;
    int ok = rep->id == 1 && rep->body_case == LINKCORE__V1__ENVELOPE__BODY_WELCOME &&
             rep->welcome->version == 1;
    if (!ok)
        fprintf(stderr, "loadgen: expected Welcome(id 1), got body %d id %llu\n",
                (int)rep->body_case, (unsigned long long)rep->id);
    release_envelope(rep, heap);
    if (!ok) return -1;

    c->next_id = 2;
    c->seed = 0x5eed000000000000ull ^ ((uint64_t)global_index << 32) ^ (uint64_t)getpid();
    uint32_t size = 1;
    while (size < 2u * (uint32_t)g_in_flight) size <<= 1;
    c->slots = calloc(size, sizeof *c->slots);
    c->mask = size - 1;
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    return 0;
}

/* ---- the measuring loop ----------------------------------------------------------------- */

static void conn_kill(lworker_t *w, lconn_t *c) {
    if (c->dead) return;
    c->dead = 1;
    epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    /* what was outstanding is lost: count it unless the run is over */
    if (now_ns() < g_end) w->errors += c->outstanding ? c->outstanding : 1;
}

static void set_interest(lworker_t *w, lconn_t *c, int want_out) {
    if (want_out == c->want_out) return;
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want_out;
}

static void conn_flush(lworker_t *w, lconn_t *c) {
    while (buf_pending(&c->out) > 0) {
        int r = SSL_write(c->ssl, c->out.data + c->out.off, (int)buf_pending(&c->out));
        if (r > 0) { c->out.off += (size_t)r; continue; }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) { set_interest(w, c, 1); return; }
        conn_kill(w, c);
        return;
    }
    buf_consumed(&c->out);
    set_interest(w, c, 0);
}

static void conn_event(lworker_t *w, lconn_t *c) {
    int broken = 0;
    for (;;) {
        buf_reserve(&c->in, BENCH_READ_CHUNK);
        int r = SSL_read(c->ssl, c->in.data + c->in.len, (int)(c->in.cap - c->in.len));
        if (r > 0) {
            c->in.len += (size_t)r;
            /* drained OpenSSL: epoll (level-triggered) reports the socket again if needed */
            if (!SSL_has_pending(c->ssl) && c->in.len < c->in.cap) break;
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) broken = 1;
        break;
    }
    uint64_t now = now_ns();
    int sending = now < g_end;
    while (buf_pending(&c->in) >= 4) {
        const uint8_t *p = c->in.data + c->in.off;
        uint32_t n = get_be32(p);
        if (n == 0 || n > BENCH_MAX_FRAME) { broken = 1; break; }
        if (buf_pending(&c->in) - 4 < n) break;
        int heap;
        Linkcore__V1__Envelope *env = decode_envelope(&w->arena, &w->alloc, p + 4, n, &heap);
        c->in.off += 4 + (size_t)n;
        if (!env) { w->errors++; continue; }
        uint64_t sent = table_take(c, env->id);
        int good = sent != 0 && env->body_case == LINKCORE__V1__ENVELOPE__BODY_PONG &&
                   env->pong->payload.len == 16;
        if (good) {
            uint8_t expect[16];
            payload_for(c, env->id, expect);
            good = memcmp(expect, env->pong->payload.data, 16) == 0;
        }
        if (sent >= g_measure_from && now <= g_end) {
            if (good) {
                uint64_t us = (now - sent) / 1000;
                w->hist[us < HIST_BUCKETS ? us : HIST_BUCKETS - 1]++;
                w->requests++;
            } else {
                w->errors++;
            }
        } else if (sent == 0 && sending) {
            w->errors++; /* unknown id */
        }
        release_envelope(env, heap);
        if (sent != 0 && sending) queue_ping(c, now);
    }
    buf_consumed(&c->in);
    if (broken) { conn_kill(w, c); return; }
    conn_flush(w, c);
}

static void *worker_main(void *arg) {
    lworker_t *w = arg;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    arena_init(&w->arena, &w->alloc, 64 * 1024);
    w->hist = calloc(HIST_BUCKETS, sizeof *w->hist);
    if (!w->hist) die("out of memory");
    for (int i = 0; i < w->nconn; i++) {
        lconn_t *c = &w->conns[i];
        if (conn_setup(w, c, w->index * 100000 + i) < 0) {
            c->dead = 1;
            w->setup_failures++;
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev);
    }
    pthread_barrier_wait(&g_ready); /* main sets the clock once every connection is up */
    pthread_barrier_wait(&g_ready);
    uint64_t start = now_ns();
    for (int i = 0; i < w->nconn; i++) {
        lconn_t *c = &w->conns[i];
        if (c->dead) continue;
        for (int k = 0; k < g_in_flight; k++) queue_ping(c, start);
        conn_flush(w, c);
    }
    struct epoll_event evs[256];
    while (now_ns() < g_end) {
        int n = epoll_wait(w->ep, evs, 256, 20);
        for (int i = 0; i < n; i++) {
            lconn_t *c = evs[i].data.ptr;
            if (c->dead) continue;
            if ((evs[i].events & EPOLLOUT) && buf_pending(&c->out)) conn_flush(w, c);
            if (!c->dead) conn_event(w, c);
        }
    }
    for (int i = 0; i < w->nconn; i++) {
        lconn_t *c = &w->conns[i];
        if (c->ssl) SSL_free(c->ssl);
        if (c->fd > 0) close(c->fd);
    }
    return NULL;
}

static uint64_t hist_percentile(const uint64_t *h, uint64_t total, double p) {
    if (total == 0) return 0;
    uint64_t rank = (uint64_t)((p / 100.0) * (double)total + 0.999999);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h[i];
        if (seen >= rank) return i;
    }
    return HIST_BUCKETS - 1;
}

int main(int argc, char **argv) {
    const char *ca = NULL, *cert = NULL, *key = NULL;
    int connections = 1, threads = 0;
    double seconds = 5, warmup = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--host")) g_host = v;
        else if (!strcmp(k, "--port")) g_port = atoi(v);
        else if (!strcmp(k, "--ca")) ca = v;
        else if (!strcmp(k, "--cert")) cert = v;
        else if (!strcmp(k, "--key")) key = v;
        else if (!strcmp(k, "--connections")) connections = atoi(v);
        else if (!strcmp(k, "--in-flight")) g_in_flight = atoi(v);
        else if (!strcmp(k, "--seconds")) seconds = atof(v);
        else if (!strcmp(k, "--warmup")) warmup = atof(v);
        else if (!strcmp(k, "--threads")) threads = atoi(v);
        else { fprintf(stderr, "loadgen: unknown option %s\n", k); return 2; }
    }
    if (!ca || !cert || !key || g_port <= 0 || connections < 1 || g_in_flight < 1 ||
        g_in_flight > 1000000 || seconds <= 0 || warmup < 0 || (argc % 2) != 1) {
        fprintf(stderr, "usage: loadgen --host H --port P --ca CA --cert PEM --key KEY "
                        "--connections C --in-flight N --seconds S --warmup W [--threads T]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    g_ctx = make_ctx(0, ca, cert, key, NULL);
    int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads <= 0) threads = cores < 1 ? 1 : cores;
    if (threads > connections) threads = connections;

    lworker_t *ws = calloc((size_t)threads, sizeof *ws);
    pthread_barrier_init(&g_ready, NULL, (unsigned)threads + 1);
    for (int t = 0; t < threads; t++) {
        ws[t].index = t;
        ws[t].nconn = connections / threads + (t < connections % threads);
        ws[t].conns = calloc((size_t)ws[t].nconn, sizeof(lconn_t));
        if (pthread_create(&ws[t].th, NULL, worker_main, &ws[t]) != 0) die("pthread_create");
    }
    pthread_barrier_wait(&g_ready);
    uint64_t start = now_ns();
    g_measure_from = start + (uint64_t)(warmup * 1e9);
    g_end = g_measure_from + (uint64_t)(seconds * 1e9);
    pthread_barrier_wait(&g_ready);

    uint64_t *hist = calloc(HIST_BUCKETS, sizeof *hist);
    uint64_t requests = 0, errors = 0, failures = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(ws[t].th, NULL);
        requests += ws[t].requests;
        errors += ws[t].errors;
        failures += ws[t].setup_failures;
        for (uint32_t i = 0; i < HIST_BUCKETS; i++) hist[i] += ws[t].hist[i];
    }
    errors += failures;
    printf("rps=%.0f p50_us=%llu p99_us=%llu requests=%llu errors=%llu\n",
           (double)requests / seconds,
           (unsigned long long)hist_percentile(hist, requests, 50),
           (unsigned long long)hist_percentile(hist, requests, 99),
           (unsigned long long)requests, (unsigned long long)errors);
    fflush(stdout);
    if (failures == (uint64_t)connections) {
        fprintf(stderr, "loadgen: no connection came up\n");
        return 1;
    }
    return requests > 0 ? 0 : 1;
}
