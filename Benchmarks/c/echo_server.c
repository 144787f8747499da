/* echo_server: the "C limit" baseline of the linkcore transport benchmark.
 *
 * A minimal linkcore peer over mutual TLS 1.3 (system OpenSSL): one epoll loop per thread,
 * each with its own SO_REUSEPORT listener, non-blocking sockets, TLS on the socket directly.
 * Every frame is decoded with protobuf-c; Hello is answered with Welcome, Ping with Pong, any
 * other body with Error(UNKNOWN_MESSAGE). All replies produced by one read pass (everything
 * OpenSSL can decrypt without blocking) go out in a single SSL_write.
 *
 * usage: echo_server --port P --ca ca.pem --cert server.pem --key server.key
 *                    [--crl crl.pem] [--threads N] [--host 127.0.0.1]
 * Prints "listening port=N" once every thread is listening (P may be 0). Runs until killed.
 */
#include "bench_common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PENDING_WRITE (4u << 20) /* stop reading from a peer that doesn't read its replies */

typedef struct conn {
    int fd;
    SSL *ssl;
    int handshaken;
    int welcomed;
    int want_out;     /* EPOLLOUT currently armed */
    char org[64];
    buf_t in, out;
} conn_t;

typedef struct {
    int id;
    int listen_fd;
    int ep;
    SSL_CTX *ctx;
    arena_t arena;
    ProtobufCAllocator alloc;
} worker_t;

static const char *g_host = "127.0.0.1";

static void conn_close(worker_t *w, conn_t *c) {
    epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    SSL_free(c->ssl);
    close(c->fd);
    free(c->in.data);
    free(c->out.data);
    free(c);
}

static void set_interest(worker_t *w, conn_t *c, int want_out) {
    if (want_out == c->want_out) return;
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want_out;
}

/* The organisation code from the client certificate's SAN URI urn:linkcore:org:<code>. */
static void peer_org(conn_t *c) {
    X509 *peer = SSL_get1_peer_certificate(c->ssl);
    if (!peer) return;
    GENERAL_NAMES *names = X509_get_ext_d2i(peer, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type != GEN_URI) continue;
        const char *uri = (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
        int len = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
        static const char prefix[] = "urn:linkcore:org:";
        if (len > (int)sizeof prefix - 1 && len - (int)(sizeof prefix - 1) < (int)sizeof c->org &&
            memcmp(uri, prefix, sizeof prefix - 1) == 0) {
            memcpy(c->org, uri + sizeof prefix - 1, (size_t)len - (sizeof prefix - 1));
            c->org[len - (sizeof prefix - 1)] = 0;
            break;
        }
    }
    GENERAL_NAMES_free(names);
    X509_free(peer);
}

static void reply_error(conn_t *c, uint64_t id, Linkcore__V1__ErrorCode code, const char *msg) {
    Linkcore__V1__Error err = LINKCORE__V1__ERROR__INIT;
    err.code = code;
    err.message = (char *)msg;
    Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
    env.id = id;
    env.body_case = LINKCORE__V1__ENVELOPE__BODY_ERROR;
    env.error = &err;
    buf_append_envelope(&c->out, &env);
}

/* Handle one frame; returns 0, or -1 to close the connection. */
static int handle_frame(worker_t *w, conn_t *c, const uint8_t *p, size_t n) {
    int heap;
    Linkcore__V1__Envelope *req = decode_envelope(&w->arena, &w->alloc, p, n, &heap);
    if (!req) {
        reply_error(c, 0, LINKCORE__V1__ERROR_CODE__MALFORMED_MESSAGE, "not an Envelope");
        return 0;
    }
    Linkcore__V1__Envelope rep = LINKCORE__V1__ENVELOPE__INIT;
    rep.id = req->id;
    switch (req->body_case) {
    case LINKCORE__V1__ENVELOPE__BODY_HELLO: {
        Linkcore__V1__Hello *h = req->hello;
        if (h->min_version > 1 || h->max_version < 1) {
            reply_error(c, req->id, LINKCORE__V1__ERROR_CODE__UNSUPPORTED_VERSION, "speaks 1");
            break;
        }
        Linkcore__V1__Welcome wel = LINKCORE__V1__WELCOME__INIT;
        wel.version = 1;
        wel.core_id = "c-echo";
        wel.org_code = c->org;
        wel.max_frame_bytes = BENCH_MAX_FRAME;
        wel.max_in_flight = 1024;
        wel.idle_timeout_ms = 120000;
        wel.keepalive_ms = 30000;
        wel.role = LINKCORE__V1__ROLE__AGENCY;
        rep.body_case = LINKCORE__V1__ENVELOPE__BODY_WELCOME;
        rep.welcome = &wel;
        buf_append_envelope(&c->out, &rep);
        c->welcomed = 1;
        break;
    }
    case LINKCORE__V1__ENVELOPE__BODY_PING: {
        if (!c->welcomed) {
            reply_error(c, req->id, LINKCORE__V1__ERROR_CODE__HELLO_REQUIRED, "hello first");
            break;
        }
        if (req->ping->payload.len > 64) {
            reply_error(c, req->id, LINKCORE__V1__ERROR_CODE__INVALID_ARGUMENT, "payload > 64");
            break;
        }
        Linkcore__V1__Pong pong = LINKCORE__V1__PONG__INIT;
        pong.payload = req->ping->payload;
        rep.body_case = LINKCORE__V1__ENVELOPE__BODY_PONG;
        rep.pong = &pong;
        buf_append_envelope(&c->out, &rep);
        break;
    }
    default:
        reply_error(c, req->id, LINKCORE__V1__ERROR_CODE__UNKNOWN_MESSAGE, "echo server");
        break;
    }
    release_envelope(req, heap);
    return 0;
}

/* Flush pending replies; returns 0 or -1 on a fatal error. */
static int conn_flush(worker_t *w, conn_t *c) {
    while (buf_pending(&c->out) > 0) {
        int r = SSL_write(c->ssl, c->out.data + c->out.off, (int)buf_pending(&c->out));
        if (r > 0) {
            c->out.off += (size_t)r;
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
            set_interest(w, c, 1);
            return 0;
        }
        return -1;
    }
    buf_consumed(&c->out);
    set_interest(w, c, 0);
    return 0;
}

static void conn_event(worker_t *w, conn_t *c) {
    if (!c->handshaken) {
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ) { set_interest(w, c, 0); return; }
            if (e == SSL_ERROR_WANT_WRITE) { set_interest(w, c, 1); return; }
            conn_close(w, c); /* bad or missing client certificate, or the peer went away */
            return;
        }
        c->handshaken = 1;
        peer_org(c);
    }
    /* Read everything OpenSSL can give us without blocking. */
    int closing = 0;
    while (buf_pending(&c->out) < MAX_PENDING_WRITE) {
        buf_reserve(&c->in, BENCH_READ_CHUNK);
        int r = SSL_read(c->ssl, c->in.data + c->in.len, (int)(c->in.cap - c->in.len));
        if (r > 0) {
            c->in.len += (size_t)r;
            /* Nothing left inside OpenSSL: stop here rather than pay a read() that returns
             * EAGAIN; level-triggered epoll reports the socket again if more has arrived. */
            if (!SSL_has_pending(c->ssl) && c->in.len < c->in.cap) break;
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
        closing = 1; /* close_notify, EOF or error: answer what we have, then close */
        break;
    }
    /* Answer every complete frame. */
    while (buf_pending(&c->in) >= 4) {
        const uint8_t *p = c->in.data + c->in.off;
        uint32_t n = get_be32(p);
        if (n == 0 || n > BENCH_MAX_FRAME) {
            reply_error(c, 0, n ? LINKCORE__V1__ERROR_CODE__FRAME_TOO_LARGE
                                : LINKCORE__V1__ERROR_CODE__MALFORMED_FRAME, "bad frame");
            closing = 1;
            break;
        }
        if (buf_pending(&c->in) - 4 < n) break;
        if (handle_frame(w, c, p + 4, n) < 0) { closing = 1; break; }
        c->in.off += 4 + (size_t)n;
    }
    buf_consumed(&c->in);
    /* One write for everything this pass produced. */
    if (conn_flush(w, c) < 0 || closing) {
        conn_close(w, c);
        return;
    }
}

static void accept_all(worker_t *w) {
    for (;;) {
        int fd = accept4(w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return; /* EAGAIN, or a transient error */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn_t *c = calloc(1, sizeof *c);
        if (!c) die("out of memory");
        c->fd = fd;
        c->ssl = SSL_new(w->ctx);
        if (!c->ssl) die("SSL_new");
        SSL_set_fd(c->ssl, fd);
        SSL_set_accept_state(c->ssl);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev);
    }
}

static int make_listener(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, g_host, &a.sin_addr) != 1) die("bad --host");
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); exit(1); }
    if (listen(fd, 1024) < 0) die("listen");
    return fd;
}

static void *worker_main(void *arg) {
    worker_t *w = arg;
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(w->ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) accept_all(w);
            else conn_event(w, evs[i].data.ptr);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    int port = 0, threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    const char *ca = NULL, *cert = NULL, *key = NULL, *crl = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--host")) g_host = argv[i + 1];
        else if (!strcmp(argv[i], "--ca")) ca = argv[i + 1];
        else if (!strcmp(argv[i], "--cert")) cert = argv[i + 1];
        else if (!strcmp(argv[i], "--key")) key = argv[i + 1];
        else if (!strcmp(argv[i], "--crl")) crl = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    if (!ca || !cert || !key || threads < 1 || (argc % 2) != 1) {
        fprintf(stderr, "usage: echo_server --port P --ca CA --cert PEM --key KEY [--crl CRL] "
                        "[--threads N] [--host ADDR]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    SSL_CTX *ctx = make_ctx(1, ca, cert, key, crl);

    worker_t *ws = calloc((size_t)threads, sizeof *ws);
    for (int t = 0; t < threads; t++) {
        worker_t *w = &ws[t];
        w->id = t;
        w->ctx = ctx;
        w->listen_fd = make_listener(port);
        if (port == 0) { /* the first listener picks the port, the others share it */
            struct sockaddr_in a;
            socklen_t len = sizeof a;
            getsockname(w->listen_fd, (struct sockaddr *)&a, &len);
            port = ntohs(a.sin_port);
        }
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        epoll_ctl(w->ep, EPOLL_CTL_ADD, w->listen_fd, &ev);
        arena_init(&w->arena, &w->alloc, 64 * 1024);
    }
    printf("listening port=%d\n", port);
    fflush(stdout);
    for (int t = 1; t < threads; t++) {
        pthread_t th;
        if (pthread_create(&th, NULL, worker_main, &ws[t]) != 0) die("pthread_create");
    }
    worker_main(&ws[0]);
    return 0;
}
