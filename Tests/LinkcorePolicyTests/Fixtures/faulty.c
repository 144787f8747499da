/*
 * A deliberately misbehaving whitelist module for the host's tests. The BP-ID of each query
 * picks the misbehaviour; anything else is permitted under rule "faulty-ok".
 *   HANG      sleeps HANG_MS before answering (overruns any sane deadline)
 *   ERROR     returns LC_POLICY_INTERNAL
 *   GARBAGE   returns bytes that are not a WhitelistDecision
 *   NOREASON  returns a well-formed refusal that gives no reason
 *   HUGE      claims a 1 GiB decision
 * Compile-time switches make the broken tables: -DFAULTY_ABI=2, -DFAULTY_MAGIC=0x1234,
 * -DFAULTY_KIND=2, -DFAULTY_CONTRACT=\"linkcore.v2\". A configuration containing "fail-init"
 * makes init refuse.
 */
#include "linkcore_policy.h"
#include "linkcore/v1/policy.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef FAULTY_ABI
#define FAULTY_ABI LC_POLICY_ABI_VERSION
#endif
#ifndef FAULTY_MAGIC
#define FAULTY_MAGIC LC_POLICY_MAGIC
#endif
#ifndef FAULTY_KIND
#define FAULTY_KIND LC_POLICY_KIND_WHITELIST
#endif
#ifndef FAULTY_CONTRACT
#define FAULTY_CONTRACT LC_POLICY_CONTRACT
#endif
#ifndef HANG_MS
#define HANG_MS 5000
#endif

/* The instance remembers where to leave a mark when it is shut down ("shutdown-marker=PATH"). */
static int f_init(const char *path, const uint8_t *config, size_t len, const lc_policy_host *host, void **out,
                  char *error, size_t cap) {
    (void)path;
    (void)host;
    if (len >= 9 && memmem(config, len, "fail-init", 9) != NULL) {
        snprintf(error, cap, "told to fail by its configuration");
        return LC_POLICY_INVALID_CONFIG;
    }
    char *marker = calloc(1, len + 1);
    if (marker == NULL) return LC_POLICY_INTERNAL;
    const char *key = "shutdown-marker=";
    const uint8_t *at = len > 0 ? memmem(config, len, key, strlen(key)) : NULL;
    if (at != NULL) {
        const uint8_t *start = at + strlen(key);
        size_t n = 0;
        while (start + n < config + len && start[n] != '\n') n++;
        memcpy(marker, start, n);
    }
    *out = marker;
    return LC_POLICY_OK;
}

static int answer(Linkcore__V1__WhitelistDecision *d, uint8_t **out, size_t *out_len) {
    size_t size = linkcore__v1__whitelist_decision__get_packed_size(d);
    *out = malloc(size > 0 ? size : 1);
    if (*out == NULL) return LC_POLICY_INTERNAL;
    *out_len = linkcore__v1__whitelist_decision__pack(d, *out);
    return LC_POLICY_OK;
}

static int f_decide(void *instance, const uint8_t *query, size_t len, uint8_t **out, size_t *out_len) {
    (void)instance;
    Linkcore__V1__WhitelistQuery *q = linkcore__v1__whitelist_query__unpack(NULL, len, query);
    if (q == NULL) return LC_POLICY_INVALID_QUERY;
    char bp[32];
    snprintf(bp, sizeof bp, "%s", q->bp_id);
    linkcore__v1__whitelist_query__free_unpacked(q, NULL);

    Linkcore__V1__WhitelistDecision d = LINKCORE__V1__WHITELIST_DECISION__INIT;
    if (strcmp(bp, "HANG") == 0) {
        struct timespec t = {HANG_MS / 1000, (HANG_MS % 1000) * 1000000L};
        while (nanosleep(&t, &t) != 0) {}
    } else if (strcmp(bp, "ERROR") == 0) {
        return LC_POLICY_INTERNAL;
    } else if (strcmp(bp, "GARBAGE") == 0) {
        static const uint8_t junk[] = {0x0a, 0x10, 0xff, 0xff};
        *out = malloc(sizeof junk);
        if (*out == NULL) return LC_POLICY_INTERNAL;
        memcpy(*out, junk, sizeof junk);
        *out_len = sizeof junk;
        return LC_POLICY_OK;
    } else if (strcmp(bp, "NOREASON") == 0) {
        return answer(&d, out, out_len);
    } else if (strcmp(bp, "HUGE") == 0) {
        *out = malloc(1);
        *out_len = (size_t)1 << 30;
        return *out != NULL ? LC_POLICY_OK : LC_POLICY_INTERNAL;
    }
    d.permitted = 1;
    d.rule_id = "faulty-ok";
    return answer(&d, out, out_len);
}

static void f_free(void *instance, uint8_t *decision, size_t len) {
    (void)instance;
    (void)len;
    free(decision);
}

static void f_shutdown(void *instance) {
    const char *marker = instance;
    if (marker[0] != '\0') {
        FILE *f = fopen(marker, "w");
        if (f != NULL) fclose(f);
    }
    free(instance);
}

static const lc_policy_module table = {
    .magic = FAULTY_MAGIC,
    .abi_version = FAULTY_ABI,
    .size = sizeof(lc_policy_module),
    .kind = FAULTY_KIND,
    .contract = FAULTY_CONTRACT,
    .name = "faulty",
    .version = "0.0.1",
    .init = f_init,
    .decide = f_decide,
    .free_result = f_free,
    .shutdown = f_shutdown,
};

const lc_policy_module *linkcore_policy_module(void) { return &table; }
