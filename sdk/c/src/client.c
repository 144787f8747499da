/* The client: configuration, the session handshake (Hello/Welcome) and request ids. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* lc_stop is called from signal handlers: the flag must be a lock-free atomic. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic_int is not lock-free here");

int64_t lc_now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

lc_status lc_fail(lc_client *c, lc_status status, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(c->detail, sizeof c->detail, format, args);
    va_end(args);
    return status;
}

void lc_drop(lc_client *c) {
    lc_tls_close(c, 0);
    c->connected = 0;
    c->write_failed = 0;
}

static char *copy(const char *s, int *failed) {
    if (s == NULL) return NULL;
    char *d = strdup(s);
    if (d == NULL) *failed = 1;
    return d;
}

lc_client *lc_client_new(const lc_config *config) {
    if (config == NULL || config->host == NULL || config->certificate_file == NULL ||
        config->private_key_file == NULL || config->ca_file == NULL)
        return NULL;
    lc_client *c = calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    int failed = 0;
    c->host = copy(config->host, &failed);
    c->server_name = copy(config->server_name ? config->server_name : config->host, &failed);
    c->server_name_given = config->server_name != NULL;
    c->certificate_file = copy(config->certificate_file, &failed);
    c->private_key_file = copy(config->private_key_file, &failed);
    c->ca_file = copy(config->ca_file, &failed);
    c->software = copy(config->software ? config->software : "linkcore-c/0.1", &failed);
    c->org_code = copy(config->org_code ? config->org_code : "", &failed);
    c->fd = -1;
    if (failed) {
        lc_client_free(c);
        return NULL;
    }
    c->port = config->port ? config->port : LC_DEFAULT_PORT;
    lc_node_describe(c);
    c->accepts_pushes = config->accepts_pushes != 0;
    c->timeout_ms = config->timeout_ms ? config->timeout_ms : LC_DEFAULT_TIMEOUT_MS;
    c->frame_timeout_ms = config->frame_timeout_ms ? config->frame_timeout_ms : LC_DEFAULT_TIMEOUT_MS;
    c->max_in_frame = config->max_frame_bytes ? config->max_frame_bytes : LC_DEFAULT_MAX_FRAME_BYTES;
    return c;
}

void lc_client_free(lc_client *c) {
    if (c == NULL) return;
    lc_close(c);
    SSL_CTX_free(c->ctx);
    BIO_meth_free(c->bio_method);
    lc_nodes_free(c);
    free(c->host);
    free(c->server_name);
    free(c->certificate_file);
    free(c->private_key_file);
    free(c->ca_file);
    free(c->software);
    free(c->org_code);
    free(c);
}

/* Hello, then Welcome or a refusal. */
static lc_status handshake(lc_client *c, int64_t deadline) {
    Linkcore__V1__Hello hello = LINKCORE__V1__HELLO__INIT;
    hello.min_version = LC_PROTOCOL_VERSION;
    hello.max_version = LC_PROTOCOL_VERSION;
    hello.software = c->software;
    hello.org_code = c->org_code;
    hello.accepts_pushes = c->accepts_pushes;
    Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
    env.body_case = LINKCORE__V1__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    lc_status sent = lc_send_request(c, &env);
    /* A refused certificate is answered with an Error frame and a close; the write of Hello
     * may already fail, but the Error can still be read. */
    if (sent != LC_OK && sent != LC_ERR_IO && sent != LC_ERR_TRUNCATED && sent != LC_ERR_CLOSED) return sent;

    Linkcore__V1__Envelope *reply = NULL;
    lc_status status = lc_recv(c, (int)(deadline - lc_now_ms() > 0 ? deadline - lc_now_ms() : 1), &reply);
    if (status != LC_OK) return sent != LC_OK ? sent : status;
    switch (reply->body_case) {
    case LINKCORE__V1__ENVELOPE__BODY_ERROR:
        lc_record_error(c, reply->id, reply->error);
        status = lc_fail(c, LC_ERR_REFUSED, "%s: %s", lc_error_code_name(c->last_error.code), c->last_error.message);
        break;
    case LINKCORE__V1__ENVELOPE__BODY_WELCOME:
        if (reply->id != 1) {
            status = lc_fail(c, LC_ERR_PROTOCOL, "Welcome answers request %llu, not Hello (1)",
                             (unsigned long long)reply->id);
        } else if (reply->welcome->version != LC_PROTOCOL_VERSION) {
            status = lc_fail(c, LC_ERR_UNSUPPORTED_VERSION, "the core chose version %u; this SDK speaks %u",
                             reply->welcome->version, LC_PROTOCOL_VERSION);
        } else {
            c->welcome_envelope = reply;
            return LC_OK;
        }
        break;
    default:
        status = lc_fail(c, LC_ERR_PROTOCOL, "the core answered Hello with body %d", (int)reply->body_case);
    }
    lc_envelope_free(reply);
    return status;
}

/* One attempt on the node in host/port (lc_connect runs it once per node; failover.c). */
lc_status lc_connect_once(lc_client *c) {
    lc_close(c);
    if (atomic_load(&c->stop)) return lc_fail(c, LC_ERR_STOPPED, "stopped");
    c->next_id = 1;
    c->in_flight = 0;
    c->going_away = 0;
    memset(&c->last_error, 0, sizeof c->last_error);
    c->detail[0] = '\0';
    int64_t deadline = lc_now_ms() + c->timeout_ms;
    lc_status status = lc_tls_open(c, deadline);
    if (status != LC_OK) return status;
    /* Frames may flow from here on; "connected" gates requests until Welcome. */
    c->connected = 1;
    status = handshake(c, deadline);
    if (status != LC_OK) lc_drop(c);
    return status;
}

void lc_close(lc_client *c) {
    if (c == NULL) return;
    if (c->connected && c->ssl != NULL && !c->write_failed) {
        /* Say why before closing on purpose (protocol.md, 6), then close_notify. */
        Linkcore__V1__GoingAway away = LINKCORE__V1__GOING_AWAY__INIT;
        away.reason = "client closing";
        Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
        env.body_case = LINKCORE__V1__ENVELOPE__BODY_GOING_AWAY;
        env.going_away = &away;
        if (c->welcome_envelope != NULL) (void)lc_send(c, &env);
        lc_tls_close(c, 1);
    } else {
        lc_tls_close(c, 0);
    }
    c->connected = 0;
    c->write_failed = 0;
    lc_envelope_free(c->welcome_envelope);
    c->welcome_envelope = NULL;
}

const Linkcore__V1__Welcome *lc_welcome(const lc_client *c) {
    return c && c->welcome_envelope ? c->welcome_envelope->welcome : NULL;
}
const lc_error *lc_last_error(const lc_client *c) { return &c->last_error; }
const char *lc_detail(const lc_client *c) { return c->detail; }
int lc_going_away(const lc_client *c) { return c->going_away; }
uint32_t lc_in_flight(const lc_client *c) { return c->in_flight; }
void lc_stop(lc_client *c) { atomic_store(&c->stop, 1); }

static void copy_text(char *out, size_t size, const char *in) {
    snprintf(out, size, "%s", in ? in : "");
}

void lc_record_error(lc_client *c, uint64_t id, const Linkcore__V1__Error *error) {
    c->last_error.id = id;
    c->last_error.code = (int)error->code;
    c->last_error.retryable = error->retryable;
    c->last_error.retry_after_ms = error->retry_after_ms;
    copy_text(c->last_error.message, sizeof c->last_error.message, error->message);
    copy_text(c->last_error.provider_code, sizeof c->last_error.provider_code, error->provider_code);
}

lc_status lc_send_request(lc_client *c, Linkcore__V1__Envelope *env) {
    if (c == NULL || env == NULL || env->body_case == LINKCORE__V1__ENVELOPE__BODY__NOT_SET)
        return LC_ERR_INVALID_ARGUMENT;
    if (!c->connected) return lc_fail(c, LC_ERR_NOT_CONNECTED, "not connected");
    if (c->going_away) return lc_fail(c, LC_ERR_GOING_AWAY, "the core is draining this connection");
    const Linkcore__V1__Welcome *welcome = lc_welcome(c);
    if (welcome != NULL && welcome->max_in_flight > 0 && c->in_flight >= welcome->max_in_flight)
        return lc_fail(c, LC_ERR_TOO_MANY_IN_FLIGHT, "%u requests in flight", c->in_flight);
    env->id = c->next_id;
    lc_status status = lc_send(c, env);
    if (status != LC_OK) return status;
    c->next_id++;
    c->in_flight++;
    return LC_OK;
}

lc_status lc_request(lc_client *c, Linkcore__V1__Envelope *request, const lc_handlers *h, Linkcore__V1__Envelope **reply) {
    if (c == NULL || reply == NULL) return LC_ERR_INVALID_ARGUMENT;
    *reply = NULL;
    lc_status status = lc_send_request(c, request);
    if (status != LC_OK) return status;
    uint64_t id = request->id;
    int64_t deadline = lc_now_ms() + c->timeout_ms;
    for (;;) {
        int64_t left = deadline - lc_now_ms();
        if (left <= 0) return lc_fail(c, LC_ERR_TIMEOUT, "no reply to request %llu within %u ms",
                                      (unsigned long long)id, c->timeout_ms);
        Linkcore__V1__Envelope *env = NULL;
        status = lc_recv(c, (int)left, &env);
        if (status == LC_ERR_MALFORMED_MESSAGE) continue; /* framing is intact: keep reading */
        if (status != LC_OK) return status;
        lc_status sent = LC_OK;
        if (lc_dispatch(c, env, h, id, &sent)) {
            if (sent != LC_OK && sent != LC_ERR_FRAME_TOO_LARGE) return sent;
            continue;
        }
        if (env->id == 0 && env->body_case == LINKCORE__V1__ENVELOPE__BODY_ERROR) {
            /* Connection-level refusal (recorded by lc_recv): the core closes next. */
            lc_envelope_free(env);
            return lc_fail(c, LC_ERR_REFUSED, "%s: %s", lc_error_code_name(c->last_error.code), c->last_error.message);
        }
        if (env->id != id) { /* a late reply to a request that timed out, or GoingAway */
            lc_envelope_free(env);
            continue;
        }
        if (env->body_case == LINKCORE__V1__ENVELOPE__BODY_ERROR) {
            lc_record_error(c, env->id, env->error);
            lc_envelope_free(env);
            return lc_fail(c, LC_ERR_REFUSED, "%s: %s", lc_error_code_name(c->last_error.code), c->last_error.message);
        }
        *reply = env;
        return LC_OK;
    }
}

lc_status lc_ping(lc_client *c, uint64_t *rtt_us) {
    struct timespec start, end;
    uint8_t payload[8];
    clock_gettime(CLOCK_MONOTONIC, &start);
    memcpy(payload, &start.tv_nsec, sizeof payload < sizeof start.tv_nsec ? sizeof payload : sizeof start.tv_nsec);
    Linkcore__V1__Ping ping = LINKCORE__V1__PING__INIT;
    ping.payload.data = payload;
    ping.payload.len = sizeof payload;
    Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
    env.body_case = LINKCORE__V1__ENVELOPE__BODY_PING;
    env.ping = &ping;
    Linkcore__V1__Envelope *reply = NULL;
    lc_status status = lc_request(c, &env, NULL, &reply);
    if (status != LC_OK) return status;
    clock_gettime(CLOCK_MONOTONIC, &end);
    if (reply->body_case != LINKCORE__V1__ENVELOPE__BODY_PONG || reply->pong->payload.len != sizeof payload ||
        memcmp(reply->pong->payload.data, payload, sizeof payload) != 0)
        status = lc_fail(c, LC_ERR_PROTOCOL, "the reply to ping is not a pong with the same payload");
    lc_envelope_free(reply);
    if (status == LC_OK && rtt_us != NULL)
        *rtt_us = (uint64_t)((end.tv_sec - start.tv_sec) * 1000000 + (end.tv_nsec - start.tv_nsec) / 1000);
    return status;
}
