/* Private to the SDK: the client's state and the functions the source files share. */
#ifndef LINKCORE_INTERNAL_H
#define LINKCORE_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "linkcore.h"

struct lc_client {
    /* Copied configuration. */
    char *host, *server_name, *certificate_file, *private_key_file, *ca_file, *software, *org_code;
    uint16_t port;
    /* Several core nodes (lc_set_addresses): "host:port" each, in order of preference. host/port
     * above are the one being dialled; server_name follows it unless the config named one. */
    char **nodes;
    size_t node_count, node_current;
    int server_name_given;
    int was_welcomed;           /* the last lc_connect succeeded: a reconnect starts at the next node */
    char current_address[272];
    int accepts_pushes;
    uint32_t timeout_ms, frame_timeout_ms, max_in_frame;

    /* Connection. */
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    BIO_METHOD *bio_method;     /* per client: no global state */
    int connected;              /* TLS up and Welcome received */
    int peer_eof;               /* the socket read end-of-stream */
    int write_failed;           /* a write failed: send nothing more, but reads may drain */
    Linkcore__V1__Envelope *welcome_envelope;

    /* Session. */
    uint64_t next_id;
    uint32_t in_flight;
    int going_away;
    int64_t last_send_ms;
    atomic_int stop;            /* lock-free: safe from another thread and a signal handler */

    lc_error last_error;
    char detail[512];
};

/* Monotonic milliseconds. */
int64_t lc_now_ms(void);
/* Records a sentence for lc_detail (printf-style) and returns status. */
lc_status lc_fail(lc_client *c, lc_status status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
/* Marks the connection unusable after a fatal failure; keeps detail and last_error. */
void lc_drop(lc_client *c);

/* tls.c: TCP connect, TLS 1.3 handshake, and reads/writes bounded by deadlines (-1: none). */
lc_status lc_tls_open(lc_client *c, int64_t deadline);
void lc_tls_close(lc_client *c, int send_close_notify);
lc_status lc_tls_write(lc_client *c, const uint8_t *data, size_t length, int64_t deadline);
/* Reads 1..length bytes into data; *got receives the count. */
lc_status lc_tls_read(lc_client *c, uint8_t *data, size_t length, size_t *got, int64_t deadline);

/* serve.c: answers one envelope from the core if it is a request the SDK serves, a Ping, or
 * an unknown body. Returns 1 if it consumed (and freed) the envelope, 0 if it is the caller's. */
int lc_dispatch(lc_client *c, Linkcore__V1__Envelope *env, const lc_handlers *h, uint64_t awaited_id,
                lc_status *send_status);
/* Copies an Error body into last_error. */
void lc_record_error(lc_client *c, uint64_t id, const Linkcore__V1__Error *error);
/* Sends Envelope{id, error{code, message}}. */
lc_status lc_send_error(lc_client *c, uint64_t id, Linkcore__V1__ErrorCode code, const char *provider_code,
                        const char *message);

/* Several core nodes (failover.c). */
lc_status lc_connect_once(lc_client *client);
void lc_node_describe(lc_client *client);
void lc_nodes_free(lc_client *client);

#endif
