/*
 * ping: a smoke test for a connection to the core. Connects as the organisation in --cert,
 * prints the Welcome, measures sequential round trips, then sends a burst of pipelined pings
 * and matches the pongs by id (they may come back in any order).
 *
 *   ping --connect 127.0.0.1:7400 --cert CITY01.pem --key CITY01.key --ca ca.pem \
 *        --server-name localhost [--count 10]
 *
 * Exit status: 0 when every ping was answered, 1 otherwise (a refusal prints "refused: CODE").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "options.h"

static const char *role_name(Linkcore__V1__Role role) {
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&linkcore__v1__role__descriptor, role);
    return v ? v->name : "?";
}

/* Sends `count` pings back to back, then reads the pongs and checks each id comes back once. */
static lc_status pipelined(lc_client *client, unsigned count, double *elapsed_ms) {
    uint64_t first = 0;
    unsigned char *seen = calloc(count, 1);
    if (seen == NULL) return LC_ERR_NO_MEMORY;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    lc_status status = LC_OK;
    for (unsigned i = 0; i < count && status == LC_OK; i++) {
        Linkcore__V1__Ping ping = LINKCORE__V1__PING__INIT;
        Linkcore__V1__Envelope env = LINKCORE__V1__ENVELOPE__INIT;
        env.body_case = LINKCORE__V1__ENVELOPE__BODY_PING;
        env.ping = &ping;
        status = lc_send_request(client, &env);
        if (i == 0) first = env.id;
    }
    for (unsigned answered = 0; answered < count && status == LC_OK;) {
        Linkcore__V1__Envelope *reply = NULL;
        status = lc_recv(client, 10000, &reply);
        if (status != LC_OK) break;
        uint64_t index = reply->id - first;
        if (reply->body_case == LINKCORE__V1__ENVELOPE__BODY_PONG && reply->id >= first && index < count && !seen[index]) {
            seen[index] = 1;
            answered++;
        } else if (reply->body_case == LINKCORE__V1__ENVELOPE__BODY_ERROR) {
            fprintf(stderr, "ping %llu refused: %s\n", (unsigned long long)reply->id, lc_error_code_name(reply->error->code));
            status = LC_ERR_REFUSED;
        }
        lc_envelope_free(reply);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *elapsed_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    free(seen);
    return status;
}

int main(int argc, char **argv) {
    lc_config config = {.software = "linkcore-c-ping/0.1"};
    argc = parse_options(argc, argv, &config, " [--count N]");
    if (argc < 0) return 2;
    unsigned count = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            count = (unsigned)strtoul(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (count == 0) count = 1;

    lc_client *client = lc_client_new(&config);
    if (client == NULL) {
        fprintf(stderr, "lc_client_new failed\n");
        return 1;
    }
    lc_status status = lc_connect(client);
    if (status != LC_OK) {
        print_failure("connect", client, status);
        lc_client_free(client);
        return 1;
    }
    const Linkcore__V1__Welcome *w = lc_welcome(client);
    printf("welcome: version=%u core=%s org=%s role=%s max_frame_bytes=%u max_in_flight=%u keepalive_ms=%u\n",
           w->version, w->core_id, w->org_code, role_name(w->role), w->max_frame_bytes, w->max_in_flight, w->keepalive_ms);

    uint64_t min = UINT64_MAX, max = 0, sum = 0;
    for (unsigned i = 0; i < count && status == LC_OK; i++) {
        uint64_t rtt = 0;
        status = lc_ping(client, &rtt);
        if (status != LC_OK) break;
        sum += rtt;
        min = rtt < min ? rtt : min;
        max = rtt > max ? rtt : max;
    }
    if (status == LC_OK) {
        printf("ping: %u round trips, min %llu us, avg %llu us, max %llu us\n", count, (unsigned long long)min,
               (unsigned long long)(sum / count), (unsigned long long)max);
        unsigned burst = count * 10;
        if (burst > w->max_in_flight && w->max_in_flight > 0) burst = w->max_in_flight;
        double ms = 0;
        status = pipelined(client, burst, &ms);
        if (status == LC_OK) printf("pipelined: %u pings answered in %.2f ms\n", burst, ms);
    }
    if (status != LC_OK) print_failure("ping", client, status);
    lc_client_free(client);
    return status == LC_OK ? 0 : 1;
}
