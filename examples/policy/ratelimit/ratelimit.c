/*
 * A third-party linkcore policy module in C: a per-organisation rate limit on mediation
 * requests, as a "whitelist" filter. linkcored asks every whitelist module in order and an
 * exchange goes ahead only when all permit, so this module composes with the statutory table:
 * the table decides whether an exchange is lawful, this one how often an organisation may ask.
 *
 * Configuration (plain "key = value" lines, '#' comments):
 *     window_ms = 60000          # length of the fixed window
 *     limit = 600                # requests per window for every organisation...
 *     limit.BANK01 = 60          # ...unless it has its own line
 *
 * Build: make (see Makefile). Depends only on linkcore_policy.h, the protoc-c output of
 * Protos/linkcore/v1/{common,policy}.proto and libprotobuf-c.
 */
#include "linkcore_policy.h"
#include "linkcore/v1/policy.pb-c.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ORGS 1024
#define MAX_CODE 64

typedef struct {
    char code[MAX_CODE];
    int64_t limit; /* -1: use the default */
    int64_t window_start;
    int64_t count;
} org_state;

typedef struct {
    const lc_policy_host *host;
    int64_t window_ms;
    int64_t default_limit;
    pthread_mutex_t lock; /* decide is called from several host threads at once */
    size_t orgs_used;
    org_state orgs[MAX_ORGS];
} instance;

static void say(const lc_policy_host *host, int level, const char *message) {
    if (host->log != NULL) host->log(host->context, level, message);
}

/* Finds or adds an organisation; NULL when the table is full (then the module refuses). */
static org_state *find_org(instance *in, const char *code, int add) {
    for (size_t i = 0; i < in->orgs_used; i++)
        if (strcmp(in->orgs[i].code, code) == 0) return &in->orgs[i];
    if (!add || in->orgs_used == MAX_ORGS || strlen(code) >= MAX_CODE) return NULL;
    org_state *o = &in->orgs[in->orgs_used++];
    snprintf(o->code, sizeof o->code, "%s", code);
    o->limit = -1;
    o->window_start = 0;
    o->count = 0;
    return o;
}

static int parse_int(const char *text, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\r') end++;
    if (errno != 0 || end == text || *end != '\0' || v < 0) return 0;
    *out = v;
    return 1;
}

static int parse_config(instance *in, const uint8_t *config, size_t len, char *error, size_t cap) {
    char *text = malloc(len + 1);
    if (text == NULL) return snprintf(error, cap, "out of memory"), 0;
    memcpy(text, config, len);
    text[len] = '\0';
    int ok = 1, line_no = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        char *hash = strchr(line, '#');
        if (hash != NULL) *hash = '\0';
        char *eq = strchr(line, '=');
        char key[96];
        int64_t value;
        if (eq == NULL) {
            if (strspn(line, " \t\r") == strlen(line)) continue;
            snprintf(error, cap, "line %d: expected key = value", line_no);
            ok = 0;
            break;
        }
        *eq = '\0';
        if (sscanf(line, " %95s", key) != 1 || !parse_int(eq + 1 + strspn(eq + 1, " \t"), &value)) {
            snprintf(error, cap, "line %d: expected key = non-negative integer", line_no);
            ok = 0;
            break;
        }
        if (strcmp(key, "window_ms") == 0 && value > 0) {
            in->window_ms = value;
        } else if (strcmp(key, "limit") == 0) {
            in->default_limit = value;
        } else if (strncmp(key, "limit.", 6) == 0 && key[6] != '\0') {
            org_state *o = find_org(in, key + 6, 1);
            if (o == NULL) {
                snprintf(error, cap, "line %d: too many organisations or code too long", line_no);
                ok = 0;
                break;
            }
            o->limit = value;
        } else {
            snprintf(error, cap, "line %d: unknown key \"%s\" (window_ms, limit, limit.ORG)", line_no, key);
            ok = 0;
            break;
        }
    }
    free(text);
    return ok;
}

static int rl_init(const char *path, const uint8_t *config, size_t len, const lc_policy_host *host, void **out,
                   char *error, size_t cap) {
    if (host == NULL || host->size < sizeof(lc_policy_host) || host->now_ms == NULL) {
        snprintf(error, cap, "this module needs the host's clock (ABI 1 host table)");
        return LC_POLICY_INTERNAL;
    }
    instance *in = calloc(1, sizeof *in);
    if (in == NULL) return snprintf(error, cap, "out of memory"), LC_POLICY_INTERNAL;
    in->host = host;
    in->window_ms = 60000;
    in->default_limit = 600;
    if (!parse_config(in, config, len, error, cap)) {
        free(in);
        return LC_POLICY_INVALID_CONFIG;
    }
    pthread_mutex_init(&in->lock, NULL);
    char message[256];
    snprintf(message, sizeof message, "rate limit %lld per %lld ms (%zu organisations with their own limit) from %s",
             (long long)in->default_limit, (long long)in->window_ms, in->orgs_used, path);
    say(host, LC_POLICY_LOG_INFO, message);
    *out = in;
    return LC_POLICY_OK;
}

static int rl_decide(void *opaque, const uint8_t *query, size_t len, uint8_t **decision, size_t *decision_len) {
    instance *in = opaque;
    Linkcore__V1__WhitelistQuery *q = linkcore__v1__whitelist_query__unpack(NULL, len, query);
    if (q == NULL) return LC_POLICY_INVALID_QUERY;
    if (q->requester == NULL || q->requester->code == NULL || q->requester->code[0] == '\0') {
        linkcore__v1__whitelist_query__free_unpacked(q, NULL);
        return LC_POLICY_INVALID_QUERY;
    }
    int64_t now = in->host->now_ms(in->host->context);
    char reason[256] = "";
    pthread_mutex_lock(&in->lock);
    org_state *o = find_org(in, q->requester->code, 1);
    if (o == NULL) {
        snprintf(reason, sizeof reason, "rate limit: too many organisations to track");
    } else {
        int64_t limit = o->limit >= 0 ? o->limit : in->default_limit;
        if (now - o->window_start >= in->window_ms || now < o->window_start) {
            o->window_start = now - (now % in->window_ms);
            o->count = 0;
        }
        if (o->count >= limit) {
            snprintf(reason, sizeof reason, "rate limit: %s reached %lld requests in %lld ms", o->code,
                     (long long)limit, (long long)in->window_ms);
        } else {
            o->count++;
        }
    }
    pthread_mutex_unlock(&in->lock);
    linkcore__v1__whitelist_query__free_unpacked(q, NULL);

    Linkcore__V1__WhitelistDecision d = LINKCORE__V1__WHITELIST_DECISION__INIT;
    d.permitted = reason[0] == '\0';
    d.rule_id = d.permitted ? "ratelimit" : "";
    d.reason = reason;
    size_t size = linkcore__v1__whitelist_decision__get_packed_size(&d);
    uint8_t *buffer = malloc(size > 0 ? size : 1);
    if (buffer == NULL) return LC_POLICY_INTERNAL;
    *decision_len = linkcore__v1__whitelist_decision__pack(&d, buffer);
    *decision = buffer;
    return LC_POLICY_OK;
}

static void rl_free_result(void *opaque, uint8_t *decision, size_t len) {
    (void)opaque;
    (void)len;
    free(decision);
}

static void rl_shutdown(void *opaque) {
    instance *in = opaque;
    pthread_mutex_destroy(&in->lock);
    free(in);
}

static const lc_policy_module table = {
    .magic = LC_POLICY_MAGIC,
    .abi_version = LC_POLICY_ABI_VERSION,
    .size = sizeof(lc_policy_module),
    .kind = LC_POLICY_KIND_WHITELIST,
    .contract = LC_POLICY_CONTRACT,
    .name = "ratelimit",
    .version = "0.1.0",
    .init = rl_init,
    .decide = rl_decide,
    .free_result = rl_free_result,
    .shutdown = rl_shutdown,
};

const lc_policy_module *linkcore_policy_module(void) { return &table; }
