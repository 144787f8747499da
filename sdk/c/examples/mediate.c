/*
 * mediate: asks the core for information about a resident as requester A (情報提供仲介).
 * The core checks the whitelist, converts A's link code to provider B's and relays B's answer.
 *
 *   mediate --connect 127.0.0.1:7400 --cert CITY01.pem --key CITY01.key --ca ca.pem \
 *           --server-name localhost --provider TAX01 --bp BP-0001 --info income \
 *           --link-code <CITY01's link code> [--query TEXT] [--deadline-ms N]
 *           [--idempotency-key KEY] [--attempts N]
 *
 * Every request carries an idempotency key (--idempotency-key, or a fresh one, printed), and a
 * retryable failure or a lost connection is retried with that key up to --attempts sends (5):
 * the core charges and logs the mediation once however many times its reply was lost.
 * Prints "answer: <bytes>" (exit 0) or "refused: CODE (n): message [provider_code=...]" (exit 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

int main(int argc, char **argv) {
    lc_config config = {.software = "linkcore-c-mediate/0.1"};
    argc = parse_options(argc, argv, &config,
                         " --provider ORG --bp BP-ID --info TYPE --link-code CODE [--query TEXT] [--deadline-ms N]"
                         " [--idempotency-key KEY] [--attempts N]");
    if (argc < 0) return 2;
    Linkcore__V1__MediateRequest request = LINKCORE__V1__MEDIATE_REQUEST__INIT;
    char key[LC_IDEMPOTENCY_KEY_SIZE + 32] = "";
    int attempts = 5;
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (value == NULL) {
            fprintf(stderr, "%s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--provider") == 0) {
            request.provider_org = (char *)value;
        } else if (strcmp(argv[i], "--bp") == 0) {
            request.bp_id = (char *)value;
        } else if (strcmp(argv[i], "--info") == 0) {
            request.info_type = (char *)value;
        } else if (strcmp(argv[i], "--link-code") == 0) {
            request.link_code = (char *)value;
        } else if (strcmp(argv[i], "--query") == 0) {
            request.query.data = (uint8_t *)value;
            request.query.len = strlen(value);
        } else if (strcmp(argv[i], "--deadline-ms") == 0) {
            request.deadline_ms = (uint32_t)strtoul(value, NULL, 10);
        } else if (strcmp(argv[i], "--idempotency-key") == 0) {
            snprintf(key, sizeof key, "%s", value);
        } else if (strcmp(argv[i], "--attempts") == 0) {
            attempts = atoi(value);
        } else {
            fprintf(stderr, "unknown argument %s\n", argv[i]);
            return 2;
        }
        i++;
    }
    if (request.provider_org == protobuf_c_empty_string || request.link_code == protobuf_c_empty_string) {
        fprintf(stderr, "--provider and --link-code are required\n");
        return 2;
    }

    lc_client *client = lc_client_new(&config);
    if (client == NULL) {
        fprintf(stderr, "lc_client_new failed\n");
        return 1;
    }
    if (apply_addresses(client) != LC_OK) {
        fprintf(stderr, "--connect: %s\n", lc_detail(client));
        lc_client_free(client);
        return 2;
    }
    if (key[0] == '\0' && lc_idempotency_key(key) != 0) {
        fprintf(stderr, "no random bytes for an idempotency key\n");
        lc_client_free(client);
        return 1;
    }
    printf("idempotency key %s\n", key);
    Linkcore__V1__Envelope *reply = NULL;
    int made = 0;
    lc_status status = lc_mediate(client, &request, key, attempts, &reply, &made);
    printf("attempts %d\n", made);
    if (status == LC_OK && reply->body_case != LINKCORE__V1__ENVELOPE__BODY_MEDIATE_RESPONSE) status = LC_ERR_PROTOCOL;
    if (status == LC_OK) {
        const Linkcore__V1__MediateResponse *r = reply->mediate_response;
        printf("mediation %s%s\n", r->mediation_id, r->repeated ? " (repeated: charged and logged once)" : "");
        printf("answer: %.*s\n", (int)r->answer.len, (const char *)r->answer.data);
    } else {
        print_failure("mediate", client, status);
        const lc_error *e = lc_last_error(client);
        if (status == LC_ERR_REFUSED && e->provider_code[0] != '\0') printf("provider_code=%s\n", e->provider_code);
    }
    lc_envelope_free(reply);
    lc_client_free(client);
    return status == LC_OK ? 0 : 1;
}
