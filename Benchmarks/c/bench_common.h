/* Shared helpers for the linkcore transport benchmark's C programs (echo_server, loadgen).
 * Header-only (static functions) so each program is one translation unit plus the
 * protobuf-c generated code in sdk/c/generated. */
#ifndef LINKCORE_BENCH_COMMON_H
#define LINKCORE_BENCH_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "linkcore/v1/envelope.pb-c.h"

#define BENCH_MAX_FRAME (1u << 20) /* refuse frames above 1 MiB */
#define BENCH_READ_CHUNK 16384

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "fatal: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

/* ---- growable byte buffer ------------------------------------------------------------ */

typedef struct {
    uint8_t *data;
    size_t len; /* bytes held */
    size_t off; /* bytes already consumed / sent from the front */
    size_t cap;
} buf_t;

static inline void buf_reserve(buf_t *b, size_t extra) {
    if (b->off > 0 && b->len + extra > b->cap) { /* compact first */
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 16384;
    while (cap < b->len + extra) cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d) die("out of memory");
    b->data = d;
    b->cap = cap;
}

static inline size_t buf_pending(const buf_t *b) { return b->len - b->off; }

static inline void buf_consumed(buf_t *b) {
    if (b->off == b->len) b->off = b->len = 0;
}

static inline void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline uint32_t get_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Append one framed Envelope (4-byte big-endian length + message) to b. */
static inline void buf_append_envelope(buf_t *b, const Linkcore__V1__Envelope *env) {
    size_t n = linkcore__v1__envelope__get_packed_size(env);
    buf_reserve(b, n + 4);
    put_be32(b->data + b->len, (uint32_t)n);
    linkcore__v1__envelope__pack(env, b->data + b->len + 4);
    b->len += n + 4;
}

/* ---- bump allocator for protobuf-c unpack ---------------------------------------------
 * Decoding a frame allocates a handful of small structs; a per-thread arena reset after every
 * frame avoids malloc/free per message. When the arena is too small, alloc fails and the
 * caller retries with the default (malloc) allocator. */

typedef struct {
    uint8_t *base;
    size_t used, cap;
} arena_t;

static void *arena_alloc(void *data, size_t size) {
    arena_t *a = data;
    size = (size + 15) & ~(size_t)15;
    if (a->used + size > a->cap) return NULL;
    void *p = a->base + a->used;
    a->used += size;
    return p;
}
static void arena_free(void *data, void *p) { (void)data; (void)p; }

static inline void arena_init(arena_t *a, ProtobufCAllocator *pa, size_t cap) {
    a->base = aligned_alloc(16, cap);
    if (!a->base) die("out of memory");
    a->used = 0;
    a->cap = cap;
    pa->alloc = arena_alloc;
    pa->free = arena_free;
    pa->allocator_data = a;
}

/* Decode one Envelope; *heap tells whether the result must be freed with free_unpacked. */
static inline Linkcore__V1__Envelope *decode_envelope(arena_t *a, ProtobufCAllocator *pa,
                                                      const uint8_t *p, size_t n, int *heap) {
    a->used = 0;
    Linkcore__V1__Envelope *env = linkcore__v1__envelope__unpack(pa, n, p);
    *heap = 0;
    if (!env && a->used > a->cap / 2) { /* probably ran out of arena: retry on the heap */
        env = linkcore__v1__envelope__unpack(NULL, n, p);
        *heap = env != NULL;
    }
    return env;
}

static inline void release_envelope(Linkcore__V1__Envelope *env, int heap) {
    if (env && heap) linkcore__v1__envelope__free_unpacked(env, NULL);
}

/* ---- TLS contexts ---------------------------------------------------------------------- */

static SSL_CTX *make_ctx(int server, const char *ca, const char *cert, const char *key,
                         const char *crl) {
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) die("SSL_CTX_new");
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) die("loading certificate");
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) die("loading private key");
    if (SSL_CTX_check_private_key(ctx) != 1) die("certificate and key do not match");
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) die("loading CA");
    if (crl) {
        X509_STORE *store = SSL_CTX_get_cert_store(ctx);
        if (X509_STORE_load_file(store, crl) != 1) die("loading CRL");
        X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    }
    SSL_CTX_set_verify(ctx, server ? (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT)
                                   : SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, 1);
    if (server) {
        SSL_CTX_set_num_tickets(ctx, 0); /* no resumption in the benchmark */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    return ctx;
}

#endif
