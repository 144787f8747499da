/* TCP and mutual TLS 1.3 with OpenSSL, on a non-blocking socket so every wait has a deadline. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "internal.h"

/* The socket BIO writes with write(2), which raises SIGPIPE when the core has closed; a library
 * must not change the process's signal disposition, so this BIO uses send(MSG_NOSIGNAL). */
static int bio_write(BIO *b, const char *data, size_t length, size_t *written) {
    lc_client *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = send(c->fd, data, length, MSG_NOSIGNAL);
    if (n >= 0) {
        *written = (size_t)n;
        return 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_write(b);
    return 0;
}

static int bio_read(BIO *b, char *data, size_t length, size_t *got) {
    lc_client *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = recv(c->fd, data, length, 0);
    if (n > 0) {
        *got = (size_t)n;
        return 1;
    }
    if (n == 0) {
        c->peer_eof = 1;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        BIO_set_retry_read(b);
    }
    return 0;
}

static long bio_ctrl(BIO *b, int command, long number, void *pointer) {
    (void)number;
    (void)pointer;
    lc_client *c = BIO_get_data(b);
    switch (command) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_EOF: return c != NULL && c->peer_eof;
    default: return 0;
    }
}

static int bio_create(BIO *b) {
    BIO_set_init(b, 1);
    return 1;
}

static lc_status wait_fd(lc_client *c, short events, int64_t deadline) {
    for (;;) {
        if (atomic_load(&c->stop)) return lc_fail(c, LC_ERR_STOPPED, "stopped");
        int timeout = -1;
        if (deadline >= 0) {
            int64_t left = deadline - lc_now_ms();
            if (left <= 0) return lc_fail(c, LC_ERR_TIMEOUT, "timed out");
            timeout = left > 1000 ? 1000 : (int)left; /* wake up now and then to see lc_stop */
        } else {
            timeout = 1000;
        }
        struct pollfd p = {.fd = c->fd, .events = events};
        int r = poll(&p, 1, timeout);
        if (r > 0) return LC_OK;
        if (r < 0 && errno != EINTR) return lc_fail(c, LC_ERR_IO, "poll: %s", strerror(errno));
    }
}

/* Names the OpenSSL failure; consumes the thread's OpenSSL error queue. */
static void openssl_reason(char *out, size_t size) {
    unsigned long e = ERR_get_error();
    if (e == 0) {
        snprintf(out, size, "no OpenSSL reason");
    } else {
        ERR_error_string_n(e, out, size);
    }
    ERR_clear_error();
}

/* Maps an SSL_get_error result to a wait or a status. */
static lc_status ssl_step(lc_client *c, int ssl_error, const char *what, int64_t deadline) {
    char reason[256];
    switch (ssl_error) {
    case SSL_ERROR_WANT_READ: return wait_fd(c, POLLIN, deadline);
    case SSL_ERROR_WANT_WRITE: return wait_fd(c, POLLOUT, deadline);
    case SSL_ERROR_ZERO_RETURN: return lc_fail(c, LC_ERR_CLOSED, "%s: the core closed the connection", what);
    case SSL_ERROR_SYSCALL: {
        int saved = errno;
        ERR_clear_error();
        if (c->peer_eof || saved == 0)
            return lc_fail(c, LC_ERR_TRUNCATED, "%s: connection closed without close_notify", what);
        return lc_fail(c, LC_ERR_IO, "%s: %s", what, strerror(saved));
    }
    default:
        if (c->peer_eof) {
            ERR_clear_error();
            return lc_fail(c, LC_ERR_TRUNCATED, "%s: connection closed without close_notify", what);
        }
        openssl_reason(reason, sizeof reason);
        return lc_fail(c, LC_ERR_TLS, "%s: %s", what, reason);
    }
}

static lc_status tcp_connect(lc_client *c, int64_t deadline) {
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)c->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    int rc = getaddrinfo(c->host, port, &hints, &list);
    if (rc != 0) return lc_fail(c, LC_ERR_CONNECT, "resolve %s: %s", c->host, gai_strerror(rc));
    lc_status status = lc_fail(c, LC_ERR_CONNECT, "%s:%s: no address", c->host, port);
    for (struct addrinfo *a = list; a != NULL; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            status = lc_fail(c, LC_ERR_CONNECT, "socket: %s", strerror(errno));
            continue;
        }
        c->fd = fd;
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                status = lc_fail(c, LC_ERR_CONNECT, "connect %s:%s: %s", c->host, port, strerror(errno));
                close(fd);
                c->fd = -1;
                continue;
            }
            status = wait_fd(c, POLLOUT, deadline);
            int error = 0;
            socklen_t size = sizeof error;
            if (status == LC_OK && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) == 0 && error != 0)
                status = lc_fail(c, LC_ERR_CONNECT, "connect %s:%s: %s", c->host, port, strerror(error));
            else if (status == LC_ERR_TIMEOUT)
                status = lc_fail(c, LC_ERR_CONNECT, "connect %s:%s: timed out", c->host, port);
            if (status != LC_OK) {
                close(fd);
                c->fd = -1;
                continue;
            }
        }
        int one = 1;
        /* Frames are small and answered at once: do not wait for Nagle. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        status = LC_OK;
        break;
    }
    freeaddrinfo(list);
    return status;
}

static lc_status make_context(lc_client *c) {
    char reason[256];
    /* Loaded afresh on every connect, so a renewed certificate or CA bundle is used on reconnect. */
    SSL_CTX_free(c->ctx);
    c->ctx = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) return lc_fail(c, LC_ERR_NO_MEMORY, "SSL_CTX_new failed");
    const char *failed = NULL, *file = NULL;
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) || !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
        failed = "TLS 1.3 only";
    } else if (SSL_CTX_use_certificate_chain_file(ctx, c->certificate_file) != 1) {
        failed = "certificate", file = c->certificate_file;
    } else if (SSL_CTX_use_PrivateKey_file(ctx, c->private_key_file, SSL_FILETYPE_PEM) != 1) {
        failed = "private key", file = c->private_key_file;
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        failed = "private key does not match the certificate", file = c->private_key_file;
    } else if (SSL_CTX_load_verify_locations(ctx, c->ca_file, NULL) != 1) {
        failed = "CA bundle", file = c->ca_file;
    }
    if (failed != NULL) {
        openssl_reason(reason, sizeof reason);
        SSL_CTX_free(ctx);
        return lc_fail(c, LC_ERR_TLS_CONFIG, "%s %s: %s", failed, file ? file : "", reason);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    c->ctx = ctx;
    return LC_OK;
}

static lc_status make_ssl(lc_client *c) {
    if (c->bio_method == NULL) {
        c->bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "linkcore socket");
        if (c->bio_method == NULL || !BIO_meth_set_write_ex(c->bio_method, bio_write) ||
            !BIO_meth_set_read_ex(c->bio_method, bio_read) || !BIO_meth_set_ctrl(c->bio_method, bio_ctrl) ||
            !BIO_meth_set_create(c->bio_method, bio_create))
            return lc_fail(c, LC_ERR_NO_MEMORY, "BIO_meth_new failed");
    }
    c->ssl = SSL_new(c->ctx);
    BIO *bio = c->ssl ? BIO_new(c->bio_method) : NULL;
    if (bio == NULL) return lc_fail(c, LC_ERR_NO_MEMORY, "SSL_new failed");
    BIO_set_data(bio, c);
    SSL_set_bio(c->ssl, bio, bio); /* the SSL owns the BIO from here */

    /* Verify the name we dialled: an IP literal against the certificate's IP SANs, a host
     * name against its DNS SANs (and send it as SNI). */
    unsigned char address[16];
    int is_ip = inet_pton(AF_INET, c->server_name, address) == 1 || inet_pton(AF_INET6, c->server_name, address) == 1;
    int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->server_name)
                   : SSL_set1_host(c->ssl, c->server_name) && SSL_set_tlsext_host_name(c->ssl, c->server_name);
    if (!ok) return lc_fail(c, LC_ERR_TLS_CONFIG, "server name %s cannot be verified", c->server_name);
    return LC_OK;
}

lc_status lc_tls_open(lc_client *c, int64_t deadline) {
    c->peer_eof = 0;
    ERR_clear_error();
    lc_status status = make_context(c);
    if (status == LC_OK) status = tcp_connect(c, deadline);
    if (status == LC_OK) status = make_ssl(c);
    while (status == LC_OK) {
        int r = SSL_connect(c->ssl);
        if (r == 1) return LC_OK;
        int error = SSL_get_error(c->ssl, r);
        long verify = SSL_get_verify_result(c->ssl);
        if (error == SSL_ERROR_SSL && verify != X509_V_OK) {
            ERR_clear_error();
            status = lc_fail(c, LC_ERR_TLS, "the core's certificate did not verify: %s",
                             X509_verify_cert_error_string(verify));
            break;
        }
        status = ssl_step(c, error, "TLS handshake", deadline);
        if (status == LC_ERR_TIMEOUT) status = lc_fail(c, LC_ERR_TIMEOUT, "TLS handshake timed out");
    }
    lc_tls_close(c, 0);
    return status;
}

void lc_tls_close(lc_client *c, int send_close_notify) {
    if (c->ssl != NULL) {
        /* One close_notify, best effort: we do not wait for the core's. */
        if (send_close_notify && !c->peer_eof) SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    ERR_clear_error();
}

lc_status lc_tls_write(lc_client *c, const uint8_t *data, size_t length, int64_t deadline) {
    while (length > 0) {
        size_t written = 0;
        int r = SSL_write_ex(c->ssl, data, length, &written);
        if (r == 1) {
            data += written;
            length -= written;
            continue;
        }
        lc_status status = ssl_step(c, SSL_get_error(c->ssl, r), "write", deadline);
        if (status != LC_OK) return status;
    }
    return LC_OK;
}

lc_status lc_tls_read(lc_client *c, uint8_t *data, size_t length, size_t *got, int64_t deadline) {
    for (;;) {
        int r = SSL_read_ex(c->ssl, data, length, got);
        if (r == 1) return LC_OK;
        lc_status status = ssl_step(c, SSL_get_error(c->ssl, r), "read", deadline);
        if (status != LC_OK) return status;
    }
}
