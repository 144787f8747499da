/*
 * protocol_test: the SDK against a scripted core that misbehaves on purpose. Each scenario
 * runs a real TLS 1.3 server (OpenSSL, client certificate required) on a thread, which sends
 * what linkcored never would: frames out of order, zero-length and oversized frames, garbage,
 * unknown bodies, truncated streams. The client side runs the SDK on the main thread.
 *
 *   protocol_test --ca ca.pem --server-cert server.pem --server-key server.key \
 *                 --cert ORG.pem --key ORG.key
 *
 * The server certificate must be valid for "localhost". Exit 0 when every check passes.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "linkcore.h"

static atomic_int failures;
static atomic_int checks;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        atomic_fetch_add(&checks, 1);                                        \
        if (!(cond)) {                                                       \
            atomic_fetch_add(&failures, 1);                                  \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

/* ---- The scripted core. ---- */

typedef struct server {
    SSL_CTX *ctx;
    int listener;
    uint16_t port;
    void (*script)(SSL *ssl);
    int clean_close; /* send close_notify after the script */
    pthread_t thread;
} server;

static int write_all(SSL *ssl, const void *data, size_t length) {
    size_t written = 0;
    return length == 0 || (SSL_write_ex(ssl, data, length, &written) == 1 && written == length);
}

static int read_all(SSL *ssl, uint8_t *data, size_t length) {
    size_t done = 0;
    while (done < length) {
        size_t got = 0;
        if (SSL_read_ex(ssl, data + done, length - done, &got) != 1) return 0;
        done += got;
    }
    return 1;
}

static void send_raw_frame(SSL *ssl, const uint8_t *payload, uint32_t length) {
    uint8_t header[4] = {(uint8_t)(length >> 24), (uint8_t)(length >> 16), (uint8_t)(length >> 8), (uint8_t)length};
    write_all(ssl, header, 4);
    write_all(ssl, payload, length);
}

static void send_env(SSL *ssl, const Linkcore__V1__Envelope *env) {
    size_t length = linkcore__v1__envelope__get_packed_size(env);
    uint8_t *buffer = malloc(length);
    linkcore__v1__envelope__pack(env, buffer);
    send_raw_frame(ssl, buffer, (uint32_t)length);
    free(buffer);
}

static Linkcore__V1__Envelope *read_env(SSL *ssl) {
    uint8_t header[4];
    if (!read_all(ssl, header, 4)) return NULL;
    uint32_t length = (uint32_t)header[0] << 24 | (uint32_t)header[1] << 16 | (uint32_t)header[2] << 8 | header[3];
    uint8_t *payload = malloc(length ? length : 1);
    Linkcore__V1__Envelope *env = NULL;
    if (read_all(ssl, payload, length)) env = linkcore__v1__envelope__unpack(NULL, length, payload);
    free(payload);
    return env;
}

/* Reads and drops frames until the client closes. */
static void drain(SSL *ssl) {
    Linkcore__V1__Envelope *env;
    while ((env = read_env(ssl)) != NULL) linkcore__v1__envelope__free_unpacked(env, NULL);
}

static void send_welcome(SSL *ssl, uint32_t version) {
    Linkcore__V1__Envelope *hello = read_env(ssl);
    CHECK(hello && hello->id == 1 && hello->body_case == LINKCORE__V1__ENVELOPE__BODY_HELLO, "first frame is Hello id 1");
    if (hello && hello->body_case == LINKCORE__V1__ENVELOPE__BODY_HELLO) {
        CHECK(hello->hello->min_version == 1 && hello->hello->max_version == 1, "Hello speaks version 1");
        CHECK(hello->hello->accepts_pushes, "Hello accepts pushes");
        CHECK(strcmp(hello->hello->software, "protocol-test") == 0, "Hello software %s", hello->hello->software);
    }
    linkcore__v1__envelope__free_unpacked(hello, NULL);
    Linkcore__V1__Welcome welcome = LINKCORE__V1__WELCOME__INIT;
    welcome.version = version;
    welcome.core_id = "scripted";
    welcome.org_code = "CITY01";
    welcome.max_frame_bytes = 1024;
    welcome.max_in_flight = 4;
    welcome.keepalive_ms = 30000;
    Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
    env.id = 1;
    env.body_case = LINKCORE__V1__ENVELOPE__BODY_WELCOME;
    env.welcome = &welcome;
    send_env(ssl, &env);
}

static void *serve_one(void *argument) {
    server *s = argument;
    int fd = accept(s->listener, NULL, NULL);
    SSL *ssl = SSL_new(s->ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
        s->script(ssl);
        if (s->clean_close) SSL_shutdown(ssl);
    } else {
        CHECK(0, "server TLS accept failed");
    }
    SSL_free(ssl);
    close(fd);
    return NULL;
}

/* ---- Scripts (server side) and scenarios (client side). ---- */

static void script_out_of_order(SSL *ssl) {
    send_welcome(ssl, 1);
    uint64_t ids[4];
    for (int i = 0; i < 4; i++) {
        Linkcore__V1__Envelope *ping = read_env(ssl);
        CHECK(ping && ping->body_case == LINKCORE__V1__ENVELOPE__BODY_PING, "a ping");
        ids[i] = ping ? ping->id : 0;
        linkcore__v1__envelope__free_unpacked(ping, NULL);
    }
    CHECK(ids[0] == 2 && ids[3] == 5, "request ids count up from 2 after Hello: %llu..%llu",
          (unsigned long long)ids[0], (unsigned long long)ids[3]);
    for (int i = 3; i >= 0; i--) { /* replies in any order: newest first */
        Linkcore__V1__Pong pong = LINKCORE__V1__PONG__INIT;
        Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
        env.id = ids[i];
        env.body_case = LINKCORE__V1__ENVELOPE__BODY_PONG;
        env.pong = &pong;
        send_env(ssl, &env);
    }
    Linkcore__V1__Envelope *last = read_env(ssl); /* the ping after the oversized request */
    CHECK(last && last->body_case == LINKCORE__V1__ENVELOPE__BODY_PING && last->id == 6, "the connection is still usable");
    if (last) {
        Linkcore__V1__Pong pong = LINKCORE__V1__PONG__INIT;
        pong.payload = last->ping->payload;
        Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
        env.id = last->id;
        env.body_case = LINKCORE__V1__ENVELOPE__BODY_PONG;
        env.pong = &pong;
        send_env(ssl, &env);
    }
    linkcore__v1__envelope__free_unpacked(last, NULL);
    drain(ssl); /* GoingAway from lc_close */
}

static void scenario_out_of_order(lc_client *c) {
    CHECK(lc_connect(c) == LC_OK, "connect: %s", lc_detail(c));
    CHECK(lc_welcome(c) && lc_welcome(c)->max_in_flight == 4, "welcome");
    for (int i = 0; i < 4; i++) {
        Linkcore__V1__Ping ping = LINKCORE__V1__PING__INIT;
        Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
        env.body_case = LINKCORE__V1__ENVELOPE__BODY_PING;
        env.ping = &ping;
        CHECK(lc_send_request(c, &env) == LC_OK, "ping %d", i);
    }
    Linkcore__V1__Ping ping = LINKCORE__V1__PING__INIT;
    Linkcore__V1__Envelope fifth = LINKCORE__V1__ENVELOPE__INIT;
    fifth.body_case = LINKCORE__V1__ENVELOPE__BODY_PING;
    fifth.ping = &ping;
    CHECK(lc_send_request(c, &fifth) == LC_ERR_TOO_MANY_IN_FLIGHT, "max_in_flight is enforced");
    uint64_t expected = 5;
    for (int i = 0; i < 4; i++, expected--) {
        Linkcore__V1__Envelope *reply = NULL;
        CHECK(lc_recv(c, 5000, &reply) == LC_OK, "recv: %s", lc_detail(c));
        CHECK(reply && reply->id == expected && reply->body_case == LINKCORE__V1__ENVELOPE__BODY_PONG, "pong %llu",
              (unsigned long long)expected);
        lc_envelope_free(reply);
    }
    CHECK(lc_in_flight(c) == 0, "nothing in flight: %u", lc_in_flight(c));

    /* Larger than the Welcome's 1024 bytes: refused here, not sent, connection intact. */
    uint8_t big[2000] = {0};
    Linkcore__V1__MediateRequest m = LINKCORE__V1__MEDIATE_REQUEST__INIT;
    m.query.data = big;
    m.query.len = sizeof big;
    Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
    env.body_case = LINKCORE__V1__ENVELOPE__BODY_MEDIATE;
    env.mediate = &m;
    CHECK(lc_send_request(c, &env) == LC_ERR_FRAME_TOO_LARGE, "oversized request refused locally");
    uint64_t rtt = 0;
    CHECK(lc_ping(c, &rtt) == LC_OK, "ping after: %s", lc_detail(c));
    lc_close(c);
}

static int refuse_count;
static void provide(void *user, const Linkcore__V1__ProvideRequest *request, lc_reply *reply) {
    (void)user;
    if (strcmp(request->link_code, "KNOWN") == 0) {
        lc_reply_answer(reply, "answer-bytes", 12);
    } else {
        refuse_count++;
        lc_reply_refuse(reply, "NO_RECORD", "no record");
    }
}
static int link_issued(void *user, const Linkcore__V1__LinkIssued *issued) {
    (void)user;
    return strcmp(issued->link_code, "STORE-FAILS") == 0 ? -1 : 0;
}

static Linkcore__V1__Envelope *expect_reply(SSL *ssl, uint64_t id, Linkcore__V1__Envelope__BodyCase body) {
    Linkcore__V1__Envelope *env = read_env(ssl);
    CHECK(env && env->id == id && env->body_case == body, "reply %llu: body %d, expected %d", (unsigned long long)id,
          env ? (int)env->body_case : -1, (int)body);
    return env;
}

static void push_provide(SSL *ssl, uint64_t id, const char *code, int64_t deadline_at_ms) {
    Linkcore__V1__ProvideRequest p = LINKCORE__V1__PROVIDE_REQUEST__INIT;
    p.mediation_id = "m-1";
    p.link_code = (char *)code;
    p.deadline_at_ms = deadline_at_ms;
    Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
    env.id = id;
    env.body_case = LINKCORE__V1__ENVELOPE__BODY_PROVIDE;
    env.provide = &p;
    send_env(ssl, &env);
}

static void script_pushes(SSL *ssl) {
    send_welcome(ssl, 1);
    Linkcore__V1__Envelope *ping = read_env(ssl); /* the client's lc_ping, answered last */
    CHECK(ping && ping->body_case == LINKCORE__V1__ENVELOPE__BODY_PING, "client ping");

    /* Past its deadline (1 ms after the epoch): not answered, so the next reply is for id 1. */
    push_provide(ssl, 9, "KNOWN", 1);
    push_provide(ssl, 1, "KNOWN", 0);
    Linkcore__V1__Envelope *r = expect_reply(ssl, 1, LINKCORE__V1__ENVELOPE__BODY_PROVIDE_RESPONSE);
    CHECK(r && r->provide_response->answer.len == 12 && memcmp(r->provide_response->answer.data, "answer-bytes", 12) == 0,
          "the answer");
    linkcore__v1__envelope__free_unpacked(r, NULL);

    push_provide(ssl, 2, "UNKNOWN", 0);
    r = expect_reply(ssl, 2, LINKCORE__V1__ENVELOPE__BODY_ERROR);
    CHECK(r && r->error->code == LINKCORE__V1__ERROR_CODE__PROVIDER_REFUSED && strcmp(r->error->provider_code, "NO_RECORD") == 0,
          "PROVIDER_REFUSED with the provider's code");
    linkcore__v1__envelope__free_unpacked(r, NULL);

    /* The core pings too (ids are the core's own: they may equal the client's). */
    Linkcore__V1__Ping core_ping = LINKCORE__V1__PING__INIT;
    core_ping.payload.data = (uint8_t *)"xy";
    core_ping.payload.len = 2;
    Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
    env.id = 2;
    env.body_case = LINKCORE__V1__ENVELOPE__BODY_PING;
    env.ping = &core_ping;
    send_env(ssl, &env);
    r = expect_reply(ssl, 2, LINKCORE__V1__ENVELOPE__BODY_PONG);
    CHECK(r && r->pong->payload.len == 2 && memcmp(r->pong->payload.data, "xy", 2) == 0, "pong echoes the payload");
    linkcore__v1__envelope__free_unpacked(r, NULL);

    /* A body from a newer version: Envelope{id: 3, field 999: 1}. */
    const uint8_t unknown[] = {0x08, 0x03, 0xB8, 0x3E, 0x01};
    send_raw_frame(ssl, unknown, sizeof unknown);
    r = expect_reply(ssl, 3, LINKCORE__V1__ENVELOPE__BODY_ERROR);
    CHECK(r && r->error->code == LINKCORE__V1__ERROR_CODE__UNKNOWN_MESSAGE, "UNKNOWN_MESSAGE for an unknown body");
    linkcore__v1__envelope__free_unpacked(r, NULL);

    /* A link the adapter could not store: UNAVAILABLE, so the core keeps it. */
    Linkcore__V1__LinkIssued issued = LINKCORE__V1__LINK_ISSUED__INIT;
    issued.link_code = "STORE-FAILS";
    env.id = 4;
    env.body_case = LINKCORE__V1__ENVELOPE__BODY_LINK_ISSUED;
    env.link_issued = &issued;
    send_env(ssl, &env);
    r = expect_reply(ssl, 4, LINKCORE__V1__ENVELOPE__BODY_ERROR);
    CHECK(r && r->error->code == LINKCORE__V1__ERROR_CODE__UNAVAILABLE, "UNAVAILABLE when not stored");
    linkcore__v1__envelope__free_unpacked(r, NULL);
    issued.link_code = "STORED";
    env.id = 5;
    send_env(ssl, &env);
    r = expect_reply(ssl, 5, LINKCORE__V1__ENVELOPE__BODY_LINK_ISSUED_ACK);
    linkcore__v1__envelope__free_unpacked(r, NULL);

    /* No change_event handler: UNKNOWN_MESSAGE. */
    Linkcore__V1__ChangeEvent event = LINKCORE__V1__CHANGE_EVENT__INIT;
    env.id = 6;
    env.body_case = LINKCORE__V1__ENVELOPE__BODY_CHANGE_EVENT;
    env.change_event = &event;
    send_env(ssl, &env);
    r = expect_reply(ssl, 6, LINKCORE__V1__ENVELOPE__BODY_ERROR);
    CHECK(r && r->error->code == LINKCORE__V1__ERROR_CODE__UNKNOWN_MESSAGE, "UNKNOWN_MESSAGE without a handler");
    linkcore__v1__envelope__free_unpacked(r, NULL);

    /* Finally the client's pong; then drain. */
    if (ping) {
        Linkcore__V1__Pong pong = LINKCORE__V1__PONG__INIT;
        pong.payload = ping->ping->payload;
        env.id = ping->id;
        env.body_case = LINKCORE__V1__ENVELOPE__BODY_PONG;
        env.pong = &pong;
        send_env(ssl, &env);
    }
    linkcore__v1__envelope__free_unpacked(ping, NULL);
    Linkcore__V1__GoingAway away = LINKCORE__V1__GOING_AWAY__INIT;
    away.reason = "scripted drain";
    env.id = 0;
    env.body_case = LINKCORE__V1__ENVELOPE__BODY_GOING_AWAY;
    env.going_away = &away;
    send_env(ssl, &env);
}

static void scenario_pushes(lc_client *c) {
    CHECK(lc_connect(c) == LC_OK, "connect: %s", lc_detail(c));
    lc_handlers handlers = {.provide = provide, .link_issued = link_issued};
    Linkcore__V1__Ping ping = LINKCORE__V1__PING__INIT;
    Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
    env.body_case = LINKCORE__V1__ENVELOPE__BODY_PING;
    env.ping = &ping;
    Linkcore__V1__Envelope *reply = NULL;
    /* lc_request answers every push that arrives before its own reply. */
    CHECK(lc_request(c, &env, &handlers, &reply) == LC_OK, "request: %s", lc_detail(c));
    CHECK(reply && reply->body_case == LINKCORE__V1__ENVELOPE__BODY_PONG, "its pong");
    lc_envelope_free(reply);
    CHECK(refuse_count == 1, "one refusal");
    /* GoingAway, then the core closes: lc_serve says so. */
    CHECK(lc_serve(c, &handlers) == LC_ERR_GOING_AWAY, "serve ends with GoingAway: %s", lc_detail(c));
    CHECK(lc_going_away(c), "going away");
    Linkcore__V1__Envelope again = LINKCORE__V1__ENVELOPE__INIT;
    again.body_case = LINKCORE__V1__ENVELOPE__BODY_PING;
    again.ping = &ping;
    CHECK(lc_send_request(c, &again) != LC_OK, "no new request after GoingAway");
    lc_close(c);
}

static void script_garbage_then_zero(SSL *ssl) {
    send_welcome(ssl, 1);
    const uint8_t garbage[] = {0xff, 0xff, 0xff};
    send_raw_frame(ssl, garbage, sizeof garbage);
    Linkcore__V1__GoingAway away = LINKCORE__V1__GOING_AWAY__INIT;
    Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
    env.body_case = LINKCORE__V1__ENVELOPE__BODY_GOING_AWAY;
    env.going_away = &away;
    send_env(ssl, &env);
    send_raw_frame(ssl, NULL, 0);
    drain(ssl);
}

static void scenario_garbage_then_zero(lc_client *c) {
    CHECK(lc_connect(c) == LC_OK, "connect: %s", lc_detail(c));
    Linkcore__V1__Envelope *env = NULL;
    CHECK(lc_recv(c, 5000, &env) == LC_ERR_MALFORMED_MESSAGE, "garbage is MALFORMED_MESSAGE");
    CHECK(lc_recv(c, 5000, &env) == LC_OK && env && env->body_case == LINKCORE__V1__ENVELOPE__BODY_GOING_AWAY,
          "the next frame still reads");
    lc_envelope_free(env);
    env = NULL;
    CHECK(lc_recv(c, 5000, &env) == LC_ERR_MALFORMED_FRAME, "zero length is MALFORMED_FRAME");
    CHECK(lc_recv(c, 5000, &env) == LC_ERR_NOT_CONNECTED, "and the connection is closed");
}

static void script_oversized(SSL *ssl) {
    send_welcome(ssl, 1);
    /* Only the length: a client that waited for the payload would time out instead. */
    const uint8_t header[4] = {0x7f, 0xff, 0xff, 0xff};
    write_all(ssl, header, 4);
    drain(ssl);
}

static void scenario_oversized(lc_client *c) {
    CHECK(lc_connect(c) == LC_OK, "connect: %s", lc_detail(c));
    Linkcore__V1__Envelope *env = NULL;
    CHECK(lc_recv(c, 5000, &env) == LC_ERR_FRAME_TOO_LARGE, "refused from the length: %s", lc_detail(c));
}

static void script_stall(SSL *ssl) {
    send_welcome(ssl, 1);
    const uint8_t half[2] = {0, 0};
    Linkcore__V1__Envelope *ping = read_env(ssl); /* after the client's idle timeout */
    linkcore__v1__envelope__free_unpacked(ping, NULL);
    write_all(ssl, half, 2);
    drain(ssl);
}

static void scenario_stall(lc_client *c) {
    CHECK(lc_connect(c) == LC_OK, "connect: %s", lc_detail(c));
    Linkcore__V1__Envelope *env = NULL;
    CHECK(lc_recv(c, 50, &env) == LC_ERR_TIMEOUT, "nothing started: timeout");
    Linkcore__V1__Ping ping = LINKCORE__V1__PING__INIT;
    Linkcore__V1__Envelope request = LINKCORE__V1__ENVELOPE__INIT;
    request.body_case = LINKCORE__V1__ENVELOPE__BODY_PING;
    request.ping = &ping;
    CHECK(lc_send_request(c, &request) == LC_OK, "still usable after a wait timeout");
    CHECK(lc_recv(c, 5000, &env) == LC_ERR_TIMEOUT, "a frame that stops is dropped after frame_timeout_ms");
    CHECK(lc_send_request(c, &request) == LC_ERR_NOT_CONNECTED, "and the connection is closed");
}

static void script_truncate(SSL *ssl) {
    send_welcome(ssl, 1);
    const uint8_t partial[6] = {0, 0, 0, 20, 0x08, 0x01};
    write_all(ssl, partial, sizeof partial);
    /* Closing the socket without close_notify (clean_close = 0). */
}

static void scenario_truncate(lc_client *c) {
    CHECK(lc_connect(c) == LC_OK, "connect: %s", lc_detail(c));
    Linkcore__V1__Envelope *env = NULL;
    CHECK(lc_recv(c, 5000, &env) == LC_ERR_TRUNCATED, "truncated: %s", lc_detail(c));
}

static void script_clean_close(SSL *ssl) { send_welcome(ssl, 1); }

static void scenario_clean_close(lc_client *c) {
    CHECK(lc_connect(c) == LC_OK, "connect: %s", lc_detail(c));
    CHECK(lc_serve(c, NULL) == LC_ERR_CLOSED, "close_notify is a clean close: %s", lc_detail(c));
}

static void script_future_version(SSL *ssl) { send_welcome(ssl, 2); }

static void scenario_future_version(lc_client *c) {
    CHECK(lc_connect(c) == LC_ERR_UNSUPPORTED_VERSION, "a version it did not offer: %s", lc_detail(c));
    CHECK(lc_welcome(c) == NULL, "no welcome");
}

static void script_refuse(SSL *ssl) {
    Linkcore__V1__Envelope *hello = read_env(ssl);
    linkcore__v1__envelope__free_unpacked(hello, NULL);
    Linkcore__V1__Error error = LINKCORE__V1__ERROR__INIT;
    error.code = LINKCORE__V1__ERROR_CODE__CERTIFICATE_REJECTED;
    error.message = "certificate revoked";
    Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
    env.body_case = LINKCORE__V1__ENVELOPE__BODY_ERROR;
    env.error = &error;
    send_env(ssl, &env);
}

static void scenario_refuse(lc_client *c) {
    CHECK(lc_connect(c) == LC_ERR_REFUSED, "refused: %s", lc_detail(c));
    CHECK(lc_last_error(c)->code == 8 && strcmp(lc_last_error(c)->message, "certificate revoked") == 0, "the reason");
    CHECK(strcmp(lc_error_code_name(lc_last_error(c)->code), "CERTIFICATE_REJECTED") == 0, "its name");
}

/* ---- Driver. ---- */

typedef struct options {
    const char *ca, *server_cert, *server_key, *cert, *key;
} options;

static void run(server *s, const options *o, const char *name, void (*script)(SSL *), int clean_close,
                void (*scenario)(lc_client *)) {
    int before = atomic_load(&failures);
    s->script = script;
    s->clean_close = clean_close;
    pthread_create(&s->thread, NULL, serve_one, s);
    lc_config config = {.host = "127.0.0.1", .port = s->port, .server_name = "localhost",
                        .certificate_file = o->cert, .private_key_file = o->key, .ca_file = o->ca,
                        .software = "protocol-test", .accepts_pushes = 1, .timeout_ms = 5000, .frame_timeout_ms = 300};
    lc_client *c = lc_client_new(&config);
    scenario(c);
    lc_client_free(c);
    pthread_join(s->thread, NULL);
    printf("%s %s\n", atomic_load(&failures) == before ? "ok  " : "FAIL", name);
}

int main(int argc, char **argv) {
    options o = {0};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--ca") == 0) o.ca = v;
        else if (strcmp(a, "--server-cert") == 0) o.server_cert = v;
        else if (strcmp(a, "--server-key") == 0) o.server_key = v;
        else if (strcmp(a, "--cert") == 0) o.cert = v;
        else if (strcmp(a, "--key") == 0) o.key = v;
    }
    if (!o.ca || !o.server_cert || !o.server_key || !o.cert || !o.key) {
        fprintf(stderr, "usage: %s --ca CA --server-cert PEM --server-key KEY --cert ORG.pem --key ORG.key\n", argv[0]);
        return 2;
    }
    server s = {0};
    s.ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(s.ctx, TLS1_3_VERSION);
    if (SSL_CTX_use_certificate_chain_file(s.ctx, o.server_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(s.ctx, o.server_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_load_verify_locations(s.ctx, o.ca, NULL) != 1) {
        ERR_print_errors_fp(stderr);
        return 2;
    }
    SSL_CTX_set_verify(s.ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    s.listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t size = sizeof address;
    if (bind(s.listener, (struct sockaddr *)&address, size) != 0 || listen(s.listener, 4) != 0 ||
        getsockname(s.listener, (struct sockaddr *)&address, &size) != 0) {
        perror("listen");
        return 2;
    }
    s.port = ntohs(address.sin_port);

    run(&s, &o, "replies out of order, max_in_flight, local frame limit", script_out_of_order, 1, scenario_out_of_order);
    run(&s, &o, "pushes answered while a request waits; GoingAway", script_pushes, 1, scenario_pushes);
    run(&s, &o, "garbage frame keeps the connection; zero-length closes it", script_garbage_then_zero, 1,
        scenario_garbage_then_zero);
    run(&s, &o, "oversized frame refused from its length", script_oversized, 1, scenario_oversized);
    run(&s, &o, "wait timeout keeps the connection; frame timeout drops it", script_stall, 1, scenario_stall);
    run(&s, &o, "TCP close without close_notify is a truncation", script_truncate, 0, scenario_truncate);
    run(&s, &o, "close_notify is a clean close", script_clean_close, 1, scenario_clean_close);
    run(&s, &o, "Welcome with another version", script_future_version, 1, scenario_future_version);
    run(&s, &o, "CERTIFICATE_REJECTED after the handshake", script_refuse, 1, scenario_refuse);

    close(s.listener);
    SSL_CTX_free(s.ctx);
    int failed = atomic_load(&failures);
    printf("%d checks, %d failed\n", atomic_load(&checks), failed);
    return failed == 0 ? 0 : 1;
}
