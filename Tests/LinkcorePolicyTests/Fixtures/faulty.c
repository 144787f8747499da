/*
 * A deliberately misbehaving whitelist module for the host's tests. The BP-ID of each query
 * picks the misbehaviour; anything else is permitted under rule "faulty-ok".
 *   HANG      sleeps HANG_MS before answering (overruns any sane deadline)
 *   ERROR     returns LC_POLICY_INTERNAL
 *   GARBAGE   returns bytes that are not a WhitelistDecision
 *   NOREASON  returns a well-formed refusal that gives no reason
 *   HUGE      claims a 1 GiB decision
 *   CRASH*    (any BP-ID starting so) dereferences a null pointer: the process dies of SIGSEGV (a module bug reached
 *             by a peer's bp_id; the core must check the request before any module sees it)
 * Compile-time switches make the broken tables: -DFAULTY_ABI=2, -DFAULTY_MAGIC=0x1234,
 * -DFAULTY_KIND=2, -DFAULTY_CONTRACT=\"linkcore.v2\". A configuration containing "fail-init"
 * makes init refuse. Configuration lines (each optional):
 *   shutdown-marker=PATH  created when the instance is shut down
 *   calls-log=PATH        one line per decide call: the query's BP-ID (who called, and when first)
 *   cold-ms=N             the instance's first decide call sleeps N ms (a module cold after a
 *                         restart: lazy tables, page faults); later calls answer at once
 */
#include "linkcore_policy.h"
#include "linkcore/v1/policy.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdatomic.h>

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

typedef struct {
    char marker[512];
    char calls_log[512];
    long cold_ms;
    atomic_int calls;
} faulty_instance;

/* The value of "key=" in the configuration, up to the end of its line, into out ("" if absent). */
static void setting(const uint8_t *config, size_t len, const char *key, char *out, size_t cap) {
    out[0] = '\0';
    const uint8_t *at = len > 0 ? memmem(config, len, key, strlen(key)) : NULL;
    if (at == NULL) return;
    const uint8_t *start = at + strlen(key);
    size_t n = 0;
    while (start + n < config + len && start[n] != '\n' && n + 1 < cap) n++;
    memcpy(out, start, n);
    out[n] = '\0';
}

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {}
}

static int f_init(const char *path, const uint8_t *config, size_t len, const lc_policy_host *host, void **out,
                  char *error, size_t cap) {
    (void)path;
    (void)host;
    if (len >= 9 && memmem(config, len, "fail-init", 9) != NULL) {
        snprintf(error, cap, "told to fail by its configuration");
        return LC_POLICY_INVALID_CONFIG;
    }
    faulty_instance *instance = calloc(1, sizeof *instance);
    if (instance == NULL) return LC_POLICY_INTERNAL;
    setting(config, len, "shutdown-marker=", instance->marker, sizeof instance->marker);
    setting(config, len, "calls-log=", instance->calls_log, sizeof instance->calls_log);
    char cold[32];
    setting(config, len, "cold-ms=", cold, sizeof cold);
    instance->cold_ms = atol(cold);
    atomic_init(&instance->calls, 0);
    *out = instance;
    return LC_POLICY_OK;
}

static int answer(Linkcore__V1__WhitelistDecision *d, uint8_t **out, size_t *out_len) {
    size_t size = linkcore__v1__whitelist_decision__get_packed_size(d);
    *out = malloc(size > 0 ? size : 1);
    if (*out == NULL) return LC_POLICY_INTERNAL;
    *out_len = linkcore__v1__whitelist_decision__pack(d, *out);
    return LC_POLICY_OK;
}

static int f_decide(void *opaque, const uint8_t *query, size_t len, uint8_t **out, size_t *out_len) {
    faulty_instance *instance = opaque;
    Linkcore__V1__WhitelistQuery *q = linkcore__v1__whitelist_query__unpack(NULL, len, query);
    if (q == NULL) return LC_POLICY_INVALID_QUERY;
    char bp[32];
    snprintf(bp, sizeof bp, "%s", q->bp_id);
    linkcore__v1__whitelist_query__free_unpacked(q, NULL);
    if (instance->calls_log[0] != '\0') {
        FILE *f = fopen(instance->calls_log, "a");
        if (f != NULL) {
            fprintf(f, "%s\n", bp);
            fclose(f);
        }
    }
    if (atomic_fetch_add(&instance->calls, 1) == 0 && instance->cold_ms > 0) sleep_ms(instance->cold_ms);

    Linkcore__V1__WhitelistDecision d = LINKCORE__V1__WHITELIST_DECISION__INIT;
    if (strcmp(bp, "HANG") == 0) {
        sleep_ms(HANG_MS);
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
    } else if (strncmp(bp, "CRASH", 5) == 0) {
        volatile int *null = NULL;
        return *null;
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

static void f_shutdown(void *opaque) {
    faulty_instance *instance = opaque;
    if (instance->marker[0] != '\0') {
        FILE *f = fopen(instance->marker, "w");
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
