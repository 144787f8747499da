/* Frames: 4-byte big-endian length + one serialized Envelope (protocol.md, 2). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

lc_status lc_send(lc_client *c, const Linkcore__V1__Envelope *env) {
    if (c == NULL || env == NULL) return LC_ERR_INVALID_ARGUMENT;
    if (!c->connected || c->ssl == NULL) return lc_fail(c, LC_ERR_NOT_CONNECTED, "not connected");
    if (c->write_failed) return lc_fail(c, LC_ERR_NOT_CONNECTED, "an earlier write failed: reconnect");
    size_t length = linkcore__v1__envelope__get_packed_size(env);
    /* An empty Envelope packs to zero bytes, which the core refuses as MALFORMED_FRAME. */
    if (length == 0) return lc_fail(c, LC_ERR_INVALID_ARGUMENT, "an envelope with id 0 and no body is empty");
    const Linkcore__V1__Welcome *welcome = lc_welcome(c);
    size_t limit = welcome != NULL && welcome->max_frame_bytes > 0 ? welcome->max_frame_bytes : LC_DEFAULT_MAX_FRAME_BYTES;
    /* Refused here rather than by the core, which would close the connection. */
    if (length > limit)
        return lc_fail(c, LC_ERR_FRAME_TOO_LARGE, "a %zu-byte envelope exceeds the core's %zu-byte frame limit", length, limit);
    uint8_t *frame = malloc(4 + length);
    if (frame == NULL) return lc_fail(c, LC_ERR_NO_MEMORY, "no memory for a %zu-byte frame", length);
    frame[0] = (uint8_t)(length >> 24);
    frame[1] = (uint8_t)(length >> 16);
    frame[2] = (uint8_t)(length >> 8);
    frame[3] = (uint8_t)length;
    linkcore__v1__envelope__pack(env, frame + 4);
    lc_status status = lc_tls_write(c, frame, 4 + length, lc_now_ms() + c->timeout_ms);
    free(frame);
    if (status == LC_ERR_TIMEOUT) status = lc_fail(c, LC_ERR_TIMEOUT, "the core does not read: write timed out");
    if (status != LC_OK) {
        /* Part of a frame may be on the wire: nothing more can be sent. What the core sent
         * before it closed (e.g. its refusal) can still be read. */
        c->write_failed = 1;
        return status;
    }
    c->last_send_ms = lc_now_ms();
    return LC_OK;
}

static lc_status read_exact(lc_client *c, uint8_t *data, size_t length, int64_t deadline) {
    size_t done = 0;
    while (done < length) {
        size_t got = 0;
        lc_status status = lc_tls_read(c, data + done, length - done, &got, deadline);
        if (status != LC_OK) return status;
        done += got;
    }
    return LC_OK;
}

/* A failure while reading a frame closes the connection, except a timeout before its first byte. */
static lc_status read_failed(lc_client *c, lc_status status) {
    if (status == LC_ERR_TIMEOUT) status = lc_fail(c, LC_ERR_TIMEOUT, "a frame did not complete in time");
    lc_drop(c);
    return status;
}

lc_status lc_recv(lc_client *c, int timeout_ms, Linkcore__V1__Envelope **out) {
    if (c == NULL || out == NULL) return LC_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (!c->connected || c->ssl == NULL) return lc_fail(c, LC_ERR_NOT_CONNECTED, "not connected");
    uint8_t header[4];
    size_t got = 0;
    int64_t wait = timeout_ms < 0 ? -1 : lc_now_ms() + timeout_ms;
    lc_status status = lc_tls_read(c, header, sizeof header, &got, wait);
    if (status == LC_ERR_TIMEOUT || status == LC_ERR_STOPPED) return status; /* nothing started: still usable */
    if (status != LC_OK) return read_failed(c, status);
    int64_t frame_deadline = lc_now_ms() + c->frame_timeout_ms;
    status = read_exact(c, header + got, sizeof header - got, frame_deadline);
    if (status != LC_OK) return read_failed(c, status);

    uint32_t length = (uint32_t)header[0] << 24 | (uint32_t)header[1] << 16 | (uint32_t)header[2] << 8 | header[3];
    if (length == 0) {
        lc_drop(c);
        return lc_fail(c, LC_ERR_MALFORMED_FRAME, "the core sent a zero-length frame");
    }
    /* Refused from the length alone, before buffering anything: the stream is no longer trusted. */
    if (length > c->max_in_frame) {
        lc_drop(c);
        return lc_fail(c, LC_ERR_FRAME_TOO_LARGE, "the core announced a %u-byte frame; the limit is %u", length, c->max_in_frame);
    }
    uint8_t *payload = malloc(length);
    if (payload == NULL) {
        lc_drop(c);
        return lc_fail(c, LC_ERR_NO_MEMORY, "no memory for a %u-byte frame", length);
    }
    status = read_exact(c, payload, length, frame_deadline);
    if (status != LC_OK) {
        free(payload);
        return read_failed(c, status);
    }
    Linkcore__V1__Envelope *env = linkcore__v1__envelope__unpack(NULL, length, payload);
    free(payload);
    if (env == NULL) return lc_fail(c, LC_ERR_MALFORMED_MESSAGE, "a %u-byte frame is not an Envelope", length);

    /* Bookkeeping every reader needs, whoever handles the envelope. */
    if (env->body_case == LINKCORE__V1__ENVELOPE__BODY_GOING_AWAY) {
        c->going_away = 1;
    } else if (env->body_case == LINKCORE__V1__ENVELOPE__BODY_ERROR && env->id == 0) {
        lc_record_error(c, 0, env->error);
    } else if (env->id != 0 && env->body_case != LINKCORE__V1__ENVELOPE__BODY__NOT_SET &&
               !lc_body_is_request(env->body_case) && c->in_flight > 0) {
        c->in_flight--;
    }
    *out = env;
    return LC_OK;
}

void lc_envelope_free(Linkcore__V1__Envelope *env) {
    if (env != NULL) linkcore__v1__envelope__free_unpacked(env, NULL);
}

int lc_body_is_request(Linkcore__V1__Envelope__BodyCase body) {
    switch (body) {
    case LINKCORE__V1__ENVELOPE__BODY_HELLO:
    case LINKCORE__V1__ENVELOPE__BODY_PING:
    case LINKCORE__V1__ENVELOPE__BODY_MATCH_REQUEST:
    case LINKCORE__V1__ENVELOPE__BODY_ISSUE_LINK:
    case LINKCORE__V1__ENVELOPE__BODY_LINK_ISSUED:
    case LINKCORE__V1__ENVELOPE__BODY_FETCH_LINK:
    case LINKCORE__V1__ENVELOPE__BODY_UNLINK:
    case LINKCORE__V1__ENVELOPE__BODY_MEDIATE:
    case LINKCORE__V1__ENVELOPE__BODY_PROVIDE:
    case LINKCORE__V1__ENVELOPE__BODY_REPORT_CHANGE:
    case LINKCORE__V1__ENVELOPE__BODY_CHANGE_EVENT:
    case LINKCORE__V1__ENVELOPE__BODY_FETCH_EVENTS:
    case LINKCORE__V1__ENVELOPE__BODY_ACK_EVENTS:
    case LINKCORE__V1__ENVELOPE__BODY_ACCESS_LOG_QUERY:
    case LINKCORE__V1__ENVELOPE__BODY_LINK_HOLDERS_QUERY:
    case LINKCORE__V1__ENVELOPE__BODY_OWN_FEES_STATEMENT:
    case LINKCORE__V1__ENVELOPE__BODY_STATUS_REQUEST:
    case LINKCORE__V1__ENVELOPE__BODY_RELOAD:
    case LINKCORE__V1__ENVELOPE__BODY_ORG_ADD:
    case LINKCORE__V1__ENVELOPE__BODY_ORG_LIST:
    case LINKCORE__V1__ENVELOPE__BODY_ORG_SHOW:
    case LINKCORE__V1__ENVELOPE__BODY_ORG_SET_SUSPENDED:
    case LINKCORE__V1__ENVELOPE__BODY_KEYS_ROTATE:
    case LINKCORE__V1__ENVELOPE__BODY_AUDIT_VERIFY:
    case LINKCORE__V1__ENVELOPE__BODY_FEES_STATEMENT:
    case LINKCORE__V1__ENVELOPE__BODY_ORG_SET_LICENSED:
    case LINKCORE__V1__ENVELOPE__BODY_LINKED_CERTIFICATE:
    case LINKCORE__V1__ENVELOPE__BODY_CERTIFICATE_HISTORY:
    case LINKCORE__V1__ENVELOPE__BODY_SEND_NOTICE:
    case LINKCORE__V1__ENVELOPE__BODY_DELIVER_NOTICE:
    case LINKCORE__V1__ENVELOPE__BODY_SERVICE_LINK:
    case LINKCORE__V1__ENVELOPE__BODY_NODE_PROVIDE:
        return 1;
    default:
        return 0;
    }
}
