/* Mediation as requester A, retried under one idempotency key (docs/protocol.md §8). */
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "internal.h"

int lc_idempotency_key(char key[LC_IDEMPOTENCY_KEY_SIZE]) {
    unsigned char random[16];
    if (key == NULL || RAND_bytes(random, sizeof random) != 1) return -1;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof random; i++) {
        key[2 * i] = hex[random[i] >> 4];
        key[2 * i + 1] = hex[random[i] & 0x0f];
    }
    key[2 * sizeof random] = '\0';
    return 0;
}

/* Whether the same request may be sent again: the core said so, or the connection failed
 * with the request possibly decided but its reply lost (the key makes that safe). */
static int retryable(const lc_client *c, lc_status status) {
    switch (status) {
    case LC_ERR_REFUSED: return c->last_error.retryable;
    case LC_ERR_CONNECT: case LC_ERR_CLOSED: case LC_ERR_TRUNCATED: case LC_ERR_IO: case LC_ERR_TIMEOUT:
    case LC_ERR_GOING_AWAY: case LC_ERR_NOT_CONNECTED: case LC_ERR_TOO_MANY_IN_FLIGHT:
        return 1;
    default: return 0;
    }
}

static void pause_ms(uint32_t ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {}
}

lc_status lc_mediate(lc_client *c, Linkcore__V1__MediateRequest *request, const char *idempotency_key, int attempts,
                     Linkcore__V1__Envelope **reply, int *attempts_made) {
    if (c == NULL || request == NULL || reply == NULL) return LC_ERR_INVALID_ARGUMENT;
    *reply = NULL;
    if (attempts_made != NULL) *attempts_made = 0;
    char made[LC_IDEMPOTENCY_KEY_SIZE];
    if (idempotency_key == NULL || idempotency_key[0] == '\0') {
        if (lc_idempotency_key(made) != 0) return lc_fail(c, LC_ERR_NO_MEMORY, "no random bytes for an idempotency key");
        idempotency_key = made;
    }
    char *previous = request->idempotency_key;
    request->idempotency_key = (char *)idempotency_key;
    lc_status status = LC_ERR_INVALID_ARGUMENT;
    uint32_t backoff = 100;
    for (int attempt = 1; attempt <= (attempts > 0 ? attempts : 1); attempt++) {
        if (attempts_made != NULL) *attempts_made = attempt;
        if (atomic_load(&c->stop)) { status = LC_ERR_STOPPED; break; }
        status = c->connected && !c->going_away ? LC_OK : lc_connect(c);
        if (status == LC_OK) {
            Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
            env.body_case = LINKCORE__V1__ENVELOPE__BODY_MEDIATE;
            env.mediate = request;
            status = lc_request(c, &env, NULL, reply);
            if (status == LC_OK) break;
        }
        if (!retryable(c, status) || attempt == attempts) break;
        /* A lost connection is not reused: the next attempt reconnects. */
        if (status != LC_ERR_REFUSED) lc_close(c);
        uint32_t wait = status == LC_ERR_REFUSED && c->last_error.retry_after_ms > backoff ? c->last_error.retry_after_ms : backoff;
        pause_ms(wait);
        backoff = backoff < 1600 ? backoff * 2 : 3200;
    }
    request->idempotency_key = previous;
    return status;
}
