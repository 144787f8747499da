/*
 * Several core nodes (issue 16, item 3): lc_set_addresses gives the list, lc_connect tries it.
 * A round tries each node once, from the current one and cycling, with no pause in between (a dead
 * node must not delay reaching a live one); the first that completes TLS and Hello/Welcome becomes
 * current. After a connection that was up (lost, drained or closed), the next lc_connect starts
 * with the next node: the one it was on may be gone. The caller's backoff comes between rounds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void lc_node_describe(lc_client *c) {
    const char *open = strchr(c->host, ':') ? "[" : "", *close = strchr(c->host, ':') ? "]" : "";
    if (snprintf(c->current_address, sizeof c->current_address, "%s%s%s:%u", open, c->host, close, (unsigned)c->port) < 0)
        c->current_address[0] = '\0';
}

void lc_nodes_free(lc_client *c) {
    for (size_t i = 0; i < c->node_count; i++) free(c->nodes[i]);
    free(c->nodes);
    c->nodes = NULL;
    c->node_count = 0;
    c->node_current = 0;
}

/* "host:port" or "[v6]:port", port 1-65535, into a new host string; 0 on a malformed address. */
static int split(const char *address, char **host, uint16_t *port) {
    const char *colon = strrchr(address, ':');
    if (colon == NULL || colon == address) return 0;
    char *end = NULL;
    long p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || p < 1 || p > 65535) return 0;
    const char *from = address, *to = colon;
    if (*from == '[') {
        if (to[-1] != ']' || to - from < 3) return 0;
        from++;
        to--;
    }
    size_t n = (size_t)(to - from);
    if (n == 0 || n > 255) return 0;
    *host = malloc(n + 1);
    if (*host == NULL) return 0;
    memcpy(*host, from, n);
    (*host)[n] = '\0';
    *port = (uint16_t)p;
    return 1;
}

/* Makes node i the one host/port (and server_name, unless the config named one) dial. */
static lc_status select_node(lc_client *c, size_t i) {
    char *host = NULL;
    uint16_t port = 0;
    if (!split(c->nodes[i], &host, &port)) return lc_fail(c, LC_ERR_INVALID_ARGUMENT, "bad core address %s", c->nodes[i]);
    char *name = NULL;
    if (!c->server_name_given && (name = strdup(host)) == NULL) {
        free(host);
        return lc_fail(c, LC_ERR_NO_MEMORY, "out of memory");
    }
    free(c->host);
    c->host = host;
    c->port = port;
    if (name != NULL) {
        free(c->server_name);
        c->server_name = name;
    }
    lc_node_describe(c);
    return LC_OK;
}

lc_status lc_set_addresses(lc_client *c, const char *const *addresses, size_t count) {
    if (c == NULL || addresses == NULL || count == 0) return LC_ERR_INVALID_ARGUMENT;
    char **nodes = calloc(count, sizeof *nodes);
    if (nodes == NULL) return lc_fail(c, LC_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < count; i++) {
        char *host = NULL;
        uint16_t port = 0;
        if (addresses[i] == NULL || !split(addresses[i], &host, &port)) {
            for (size_t j = 0; j < i; j++) free(nodes[j]);
            free(nodes);
            return lc_fail(c, LC_ERR_INVALID_ARGUMENT, "bad core address %s (expected host:port)", addresses[i] ? addresses[i] : "(null)");
        }
        free(host);
        nodes[i] = strdup(addresses[i]);
        if (nodes[i] == NULL) {
            for (size_t j = 0; j < i; j++) free(nodes[j]);
            free(nodes);
            return lc_fail(c, LC_ERR_NO_MEMORY, "out of memory");
        }
    }
    lc_close(c);
    lc_nodes_free(c);
    c->nodes = nodes;
    c->node_count = count;
    c->was_welcomed = 0;
    return select_node(c, 0);
}

const char *lc_current_address(const lc_client *c) { return c ? c->current_address : ""; }

lc_status lc_connect(lc_client *c) {
    if (c == NULL) return LC_ERR_INVALID_ARGUMENT;
    if (c->node_count < 2) {
        lc_status status = lc_connect_once(c);
        c->was_welcomed = status == LC_OK;
        return status;
    }
    if (c->was_welcomed) c->node_current = (c->node_current + 1) % c->node_count;
    c->was_welcomed = 0;
    lc_status status = LC_ERR_CONNECT;
    char tried[512] = "";
    for (size_t step = 0; step < c->node_count; step++) {
        size_t i = (c->node_current + step) % c->node_count;
        status = select_node(c, i);
        if (status == LC_OK) status = lc_connect_once(c);
        if (status == LC_OK) {
            c->node_current = i;
            c->was_welcomed = 1;
            return LC_OK;
        }
        if (status == LC_ERR_STOPPED || status == LC_ERR_NO_MEMORY) return status;
        size_t used = strlen(tried);
        if (snprintf(tried + used, sizeof tried - used, "%s%s: %s", used ? "; " : "", c->current_address, c->detail) < 0) tried[used] = '\0';
    }
    /* Every node failed: the detail names each; the status and lc_last_error are the last node's. */
    if (snprintf(c->detail, sizeof c->detail, "no core node answered: %s", tried) < 0) c->detail[0] = '\0';
    return status;
}
