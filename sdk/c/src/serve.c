/* Requests the core starts (protocol.md, 3): provide, link_issued, change_event, ping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

struct lc_reply {
    int refused;
    int answered;
    uint8_t *answer;
    size_t length;
    char provider_code[64];
    char message[256];
};

int lc_reply_answer(lc_reply *r, const void *answer, size_t length) {
    uint8_t *copy = malloc(length ? length : 1);
    if (copy == NULL) return -1;
    if (length) memcpy(copy, answer, length);
    free(r->answer);
    r->answer = copy;
    r->length = length;
    r->answered = 1;
    r->refused = 0;
    return 0;
}

void lc_reply_refuse(lc_reply *r, const char *provider_code, const char *message) {
    snprintf(r->provider_code, sizeof r->provider_code, "%s", provider_code ? provider_code : "");
    snprintf(r->message, sizeof r->message, "%s", message ? message : "refused by the provider");
    r->refused = 1;
    r->answered = 0;
}

lc_status lc_send_error(lc_client *c, uint64_t id, Linkcore__V1__ErrorCode code, const char *provider_code,
                        const char *message) {
    Linkcore__V1__Error error = LINKCORE__V1__ERROR__INIT;
    error.code = code;
    error.message = (char *)message;
    error.provider_code = (char *)(provider_code ? provider_code : "");
    Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
    env.id = id;
    env.body_case = LINKCORE__V1__ENVELOPE__BODY_ERROR;
    env.error = &error;
    return lc_send(c, &env);
}

/* Unix epoch milliseconds: ProvideRequest.deadline_at_ms is wall-clock time. */
static int64_t wall_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* After deadline_at_ms the core no longer waits and drops any answer (protocol.md, 8). */
static int past_deadline(const Linkcore__V1__ProvideRequest *request) {
    return request->deadline_at_ms > 0 && wall_ms() > request->deadline_at_ms;
}

static lc_status answer_provide(lc_client *c, uint64_t id, const Linkcore__V1__ProvideRequest *request,
                                const lc_handlers *h) {
    if (h == NULL || h->provide == NULL)
        return lc_send_error(c, id, LINKCORE__V1__ERROR_CODE__UNKNOWN_MESSAGE, NULL, "this peer does not provide");
    if (past_deadline(request)) return LC_OK; /* nobody waits: do not even look it up */
    lc_reply reply = {0};
    h->provide(h->user, request, &reply);
    lc_status status;
    if (past_deadline(request)) {
        status = LC_OK; /* the answer came too late to matter: send nothing */
    } else if (reply.answered) {
        Linkcore__V1__ProvideResponse response = LINKCORE__V1__PROVIDE_RESPONSE__INIT;
        response.answer.data = reply.answer;
        response.answer.len = reply.length;
        Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
        env.id = id;
        env.body_case = LINKCORE__V1__ENVELOPE__BODY_PROVIDE_RESPONSE;
        env.provide_response = &response;
        status = lc_send(c, &env);
        /* An answer too large for one frame was not sent: refuse, so the requester is not left waiting. */
        if (status == LC_ERR_FRAME_TOO_LARGE)
            status = lc_send_error(c, id, LINKCORE__V1__ERROR_CODE__PROVIDER_REFUSED, "ANSWER_TOO_LARGE",
                                   "the answer does not fit in one frame");
    } else if (reply.refused) {
        status = lc_send_error(c, id, LINKCORE__V1__ERROR_CODE__PROVIDER_REFUSED, reply.provider_code, reply.message);
    } else {
        status = lc_send_error(c, id, LINKCORE__V1__ERROR_CODE__PROVIDER_REFUSED, "NO_ANSWER", "the provider gave no answer");
    }
    free(reply.answer);
    return status;
}

/* LinkIssued and ChangeEvent: an empty acknowledgement, or UNAVAILABLE so the core keeps it. */
static lc_status acknowledge(lc_client *c, uint64_t id, int handled, int result, Linkcore__V1__Envelope__BodyCase ack) {
    if (!handled) return lc_send_error(c, id, LINKCORE__V1__ERROR_CODE__UNKNOWN_MESSAGE, NULL, "this peer does not take it");
    if (result != 0)
        return lc_send_error(c, id, LINKCORE__V1__ERROR_CODE__UNAVAILABLE, NULL, "not stored; deliver again later");
    Linkcore__V1__LinkIssuedAck link_ack = LINKCORE__V1__LINK_ISSUED_ACK__INIT;
    Linkcore__V1__ChangeEventAck event_ack = LINKCORE__V1__CHANGE_EVENT_ACK__INIT;
    Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
    env.id = id;
    env.body_case = ack;
    if (ack == LINKCORE__V1__ENVELOPE__BODY_LINK_ISSUED_ACK) env.link_issued_ack = &link_ack;
    else env.change_event_ack = &event_ack;
    return lc_send(c, &env);
}

static lc_status pong(lc_client *c, uint64_t id, const Linkcore__V1__Ping *ping) {
    Linkcore__V1__Pong pong = LINKCORE__V1__PONG__INIT;
    pong.payload = ping->payload;
    Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
    env.id = id;
    env.body_case = LINKCORE__V1__ENVELOPE__BODY_PONG;
    env.pong = &pong;
    return lc_send(c, &env);
}

int lc_dispatch(lc_client *c, Linkcore__V1__Envelope *env, const lc_handlers *h, uint64_t awaited_id, lc_status *sent) {
    *sent = LC_OK;
    uint64_t id = env->id;
    switch (env->body_case) {
    case LINKCORE__V1__ENVELOPE__BODY_PROVIDE:
        *sent = answer_provide(c, id, env->provide, h);
        break;
    case LINKCORE__V1__ENVELOPE__BODY_LINK_ISSUED: {
        int handled = h != NULL && h->link_issued != NULL;
        *sent = acknowledge(c, id, handled, handled ? h->link_issued(h->user, env->link_issued) : 0,
                            LINKCORE__V1__ENVELOPE__BODY_LINK_ISSUED_ACK);
        break;
    }
    case LINKCORE__V1__ENVELOPE__BODY_CHANGE_EVENT: {
        int handled = h != NULL && h->change_event != NULL;
        *sent = acknowledge(c, id, handled, handled ? h->change_event(h->user, env->change_event) : 0,
                            LINKCORE__V1__ENVELOPE__BODY_CHANGE_EVENT_ACK);
        break;
    }
    case LINKCORE__V1__ENVELOPE__BODY_PING:
        *sent = pong(c, id, env->ping);
        break;
    case LINKCORE__V1__ENVELOPE__BODY_GOING_AWAY:
        if (h != NULL && h->going_away != NULL) h->going_away(h->user, env->going_away);
        break;
    case LINKCORE__V1__ENVELOPE__BODY__NOT_SET:
        /* A body newer than this SDK (protocol.md, 4). A reply we wait for is the caller's. */
        if (id == 0 || id == awaited_id) return 0;
        *sent = lc_send_error(c, id, LINKCORE__V1__ERROR_CODE__UNKNOWN_MESSAGE, NULL, "unknown to this peer's version");
        break;
    default:
        if (!lc_body_is_request(env->body_case)) return 0;
        /* A request the core should not send to an organisation (hello, mediate, ...). */
        *sent = lc_send_error(c, id, LINKCORE__V1__ERROR_CODE__UNKNOWN_MESSAGE, NULL, "not served by this peer");
    }
    lc_envelope_free(env);
    return 1;
}

static lc_status keepalive(lc_client *c, uint64_t *ping_id, int64_t *ping_sent) {
    Linkcore__V1__Ping ping = LINKCORE__V1__PING__INIT;
    Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
    env.body_case = LINKCORE__V1__ENVELOPE__BODY_PING;
    env.ping = &ping;
    lc_status status = lc_send_request(c, &env);
    if (status == LC_OK) {
        *ping_id = env.id;
        *ping_sent = lc_now_ms();
    }
    return status;
}

lc_status lc_serve(lc_client *c, const lc_handlers *h) {
    if (c == NULL) return LC_ERR_INVALID_ARGUMENT;
    const Linkcore__V1__Welcome *welcome = lc_welcome(c);
    if (welcome == NULL) return lc_fail(c, LC_ERR_NOT_CONNECTED, "not connected");
    int64_t keepalive_ms = welcome->keepalive_ms ? welcome->keepalive_ms : 30000;
    uint64_t ping_id = 0;
    int64_t ping_sent = 0;
    while (!atomic_load(&c->stop)) {
        int64_t now = lc_now_ms();
        if (ping_id != 0 && now - ping_sent > (int64_t)c->timeout_ms)
            return lc_fail(c, LC_ERR_TIMEOUT, "the core did not answer a keepalive ping within %u ms", c->timeout_ms);
        if (ping_id == 0 && !c->going_away && now - c->last_send_ms >= keepalive_ms) {
            lc_status status = keepalive(c, &ping_id, &ping_sent);
            if (status != LC_OK) return status;
        }
        int64_t wait = c->last_send_ms + keepalive_ms - lc_now_ms();
        if (wait < 1) wait = 1;
        Linkcore__V1__Envelope *env = NULL;
        lc_status status = lc_recv(c, (int)(wait > 1000 ? 1000 : wait), &env);
        if (status == LC_ERR_TIMEOUT || status == LC_ERR_MALFORMED_MESSAGE) continue;
        if (status == LC_ERR_STOPPED) break;
        if (status == LC_ERR_CLOSED || status == LC_ERR_TRUNCATED)
            return c->going_away ? lc_fail(c, LC_ERR_GOING_AWAY, "the core drained and closed the connection") : status;
        if (status != LC_OK) return status;
        lc_status sent = LC_OK;
        if (lc_dispatch(c, env, h, ping_id, &sent)) {
            if (sent != LC_OK && sent != LC_ERR_FRAME_TOO_LARGE) return sent;
            continue;
        }
        if (env->id == 0 && env->body_case == LINKCORE__V1__ENVELOPE__BODY_ERROR) {
            lc_envelope_free(env);
            return lc_fail(c, LC_ERR_REFUSED, "%s: %s", lc_error_code_name(c->last_error.code), c->last_error.message);
        }
        if (env->id == ping_id) ping_id = 0; /* the keepalive answer (a pong, or an Error while draining) */
        lc_envelope_free(env);
    }
    return LC_OK;
}
