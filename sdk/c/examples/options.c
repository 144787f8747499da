#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

static const char *connect_list; /* --connect as given: one HOST:PORT or several, comma-separated */

static void usage(const char *program, const char *extra) {
    fprintf(stderr,
            "usage: %s --connect HOST:PORT[,HOST:PORT...] --cert ORG.pem --key ORG.key --ca CA.pem\n"
            "          [--server-name NAME] [--org CODE] [--timeout-ms N] [--max-frame-bytes N]%s\n",
            program, extra ? extra : "");
}

int parse_options(int argc, char **argv, lc_config *config, const char *usage_extra) {
    static char host[256]; /* the example's one connection: main() owns the lifetime */
    int kept = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (strcmp(a, "--connect") == 0 && value) {
            /* Several core nodes, comma-separated: the first here, all in apply_addresses. */
            connect_list = value;
            const char *comma = strchr(value, ',');
            const char *colon = strrchr(value, ':');
            if (comma != NULL) {
                colon = NULL;
                for (const char *p = value; p < comma; p++) if (*p == ':') colon = p;
            }
            size_t n = colon ? (size_t)(colon - value) : (comma ? (size_t)(comma - value) : strlen(value));
            if (n == 0 || n >= sizeof host) { usage(argv[0], usage_extra); return -1; }
            memcpy(host, value, n);
            host[n] = '\0';
            config->host = host;
            config->port = colon ? (uint16_t)atoi(colon + 1) : LC_DEFAULT_PORT;
        } else if (strcmp(a, "--cert") == 0 && value) {
            config->certificate_file = value;
        } else if (strcmp(a, "--key") == 0 && value) {
            config->private_key_file = value;
        } else if (strcmp(a, "--ca") == 0 && value) {
            config->ca_file = value;
        } else if (strcmp(a, "--server-name") == 0 && value) {
            config->server_name = value;
        } else if (strcmp(a, "--org") == 0 && value) {
            config->org_code = value;
        } else if (strcmp(a, "--timeout-ms") == 0 && value) {
            config->timeout_ms = (uint32_t)strtoul(value, NULL, 10);
        } else if (strcmp(a, "--max-frame-bytes") == 0 && value) {
            config->max_frame_bytes = (uint32_t)strtoul(value, NULL, 10);
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(argv[0], usage_extra);
            return -1;
        } else {
            takes = 0;
            argv[kept++] = argv[i];
        }
        i += takes;
    }
    if (!config->host || !config->certificate_file || !config->private_key_file || !config->ca_file) {
        usage(argv[0], usage_extra);
        return -1;
    }
    argv[kept] = NULL;
    return kept;
}

void print_failure(const char *what, lc_client *client, lc_status status) {
    fprintf(stderr, "%s: %s: %s\n", what, lc_strerror(status), client ? lc_detail(client) : "");
    if (status == LC_ERR_REFUSED && client) {
        const lc_error *e = lc_last_error(client);
        /* One stable line a script (or a test) can match. */
        printf("refused: %s (%d): %s\n", lc_error_code_name(e->code), e->code, e->message);
    }
}

lc_status apply_addresses(lc_client *client) {
    if (connect_list == NULL || strchr(connect_list, ',') == NULL) return LC_OK;
    char *copy = strdup(connect_list);
    if (copy == NULL) return LC_ERR_NO_MEMORY;
    const char *list[16];
    size_t count = 0;
    for (char *save = NULL, *part = strtok_r(copy, ",", &save); part != NULL && count < 16; part = strtok_r(NULL, ",", &save))
        list[count++] = part;
    lc_status status = lc_set_addresses(client, list, count);
    free(copy);
    return status;
}
