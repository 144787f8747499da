/*
 * provider: an organisation's adapter that answers mediated requests (情報提供) as provider B.
 * Answers come from a table keyed by the organisation's own link codes, one per line:
 *
 *     <link code><TAB><answer>
 *
 * A ProvideRequest for a link code in the table gets that answer; any other is refused with
 * PROVIDER_REFUSED and provider code NO_RECORD. Links pushed by the core (LinkIssued) and
 * change events are printed and acknowledged. It reconnects with backoff when the core goes
 * away, and stops on SIGINT/SIGTERM.
 *
 *   provider --connect 127.0.0.1:7400 --cert TAX01.pem --key TAX01.key --ca ca.pem \
 *            --server-name localhost --table answers.tsv
 *
 * Exit status: 0 after a signal, 1 when the core refuses the organisation (not retryable).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "options.h"

typedef struct row {
    char *link_code;
    char *answer;
} row;

typedef struct table {
    row *rows;
    size_t count;
    size_t answered, refused;
} table;

static void table_free(table *t) {
    for (size_t i = 0; i < t->count; i++) {
        free(t->rows[i].link_code);
        free(t->rows[i].answer);
    }
    free(t->rows);
}

static int table_load(table *t, const char *path) {
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    char *line = NULL;
    size_t capacity = 0;
    ssize_t n;
    int result = 0;
    while ((n = getline(&line, &capacity, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        char *tab = strchr(line, '\t');
        if (n == 0 || line[0] == '#' || tab == NULL) continue;
        *tab = '\0';
        row *grown = realloc(t->rows, (t->count + 1) * sizeof *grown);
        if (grown == NULL) {
            result = -1;
            break;
        }
        t->rows = grown;
        row *r = &t->rows[t->count];
        r->link_code = strdup(line);
        r->answer = strdup(tab + 1);
        if (r->link_code == NULL || r->answer == NULL) {
            free(r->link_code);
            free(r->answer);
            result = -1;
            break;
        }
        t->count++;
    }
    free(line);
    fclose(f);
    return result;
}

static void on_provide(void *user, const Linkcore__V1__ProvideRequest *request, lc_reply *reply) {
    table *t = user;
    for (size_t i = 0; i < t->count; i++) {
        if (strcmp(t->rows[i].link_code, request->link_code) == 0) {
            if (lc_reply_answer(reply, t->rows[i].answer, strlen(t->rows[i].answer)) == 0) {
                t->answered++;
                printf("provide %s from %s bp=%s info=%s: answered\n", request->mediation_id, request->requester_org,
                       request->bp_id, request->info_type);
                return;
            }
            break;
        }
    }
    t->refused++;
    /* The log line carries no link code: it is a pseudonym, but still the resident's. */
    printf("provide %s from %s bp=%s info=%s: refused NO_RECORD\n", request->mediation_id, request->requester_org,
           request->bp_id, request->info_type);
    lc_reply_refuse(reply, "NO_RECORD", "no record for this resident");
}

static int on_link_issued(void *user, const Linkcore__V1__LinkIssued *issued) {
    (void)user;
    /* A real adapter stores the link against its internal ID (matched by matching_number)
     * durably before returning 0; the core keeps the link until it is acknowledged. */
    printf("link-issued %s %s key=%u\n", issued->matching_number, issued->link_code, issued->key_index);
    return 0;
}

static int on_change_event(void *user, const Linkcore__V1__ChangeEvent *event) {
    (void)user;
    printf("change-event %s %s kind=%d\n", event->event_id, event->link_code, (int)event->kind);
    return 0;
}

static void on_going_away(void *user, const Linkcore__V1__GoingAway *away) {
    (void)user;
    printf("going-away: %s (drain %u ms)\n", away->reason, away->drain_ms);
}

static lc_client *running; /* for the signal handler only */

static void on_signal(int number) {
    (void)number;
    if (running != NULL) lc_stop(running);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, also into a file */
    lc_config config = {.software = "linkcore-c-provider/0.1", .accepts_pushes = 1};
    argc = parse_options(argc, argv, &config, " --table FILE");
    if (argc < 0) return 2;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--table") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else {
            fprintf(stderr, "unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (path == NULL) {
        fprintf(stderr, "--table FILE is required\n");
        return 2;
    }
    table t = {0};
    if (table_load(&t, path) != 0) {
        table_free(&t);
        return 1;
    }
    lc_client *client = lc_client_new(&config);
    if (client == NULL) {
        fprintf(stderr, "lc_client_new failed\n");
        table_free(&t);
        return 1;
    }
    if (apply_addresses(client) != LC_OK) {
        fprintf(stderr, "--connect: %s\n", lc_detail(client));
        lc_client_free(client);
        table_free(&t);
        return 2;
    }
    running = client;
    struct sigaction action = {0};
    action.sa_handler = on_signal; /* no SA_RESTART: a blocked poll returns at once */
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    /* A parent may have started us with these blocked (the mask is inherited across exec). */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &stop_signals, NULL);

    lc_handlers handlers = {.user = &t, .provide = on_provide, .link_issued = on_link_issued,
                            .change_event = on_change_event, .going_away = on_going_away};
    int exit_code = 0;
    unsigned backoff_ms = 500;
    for (;;) {
        lc_status status = lc_connect(client);
        if (status == LC_OK) {
            const Linkcore__V1__Welcome *w = lc_welcome(client);
            printf("connected as %s to %s (version %u); %zu link codes in the table\n", w->org_code, w->core_id,
                   w->version, t.count);
            printf("core node %s\n", lc_current_address(client));
            backoff_ms = 500;
            status = lc_serve(client, &handlers);
            if (status == LC_OK) break; /* lc_stop from a signal */
        }
        if (status == LC_ERR_STOPPED) break;
        print_failure("provider", client, status);
        const lc_error *e = lc_last_error(client);
        if (status == LC_ERR_REFUSED && !e->retryable) {
            exit_code = 1; /* a refused certificate or organisation will not change by retrying */
            break;
        }
        if (status == LC_ERR_TLS_CONFIG || status == LC_ERR_TLS) {
            exit_code = 1; /* our files, or a core we must not trust: retrying will not help */
            break;
        }
        /* Going away, closed or unreachable: reconnect, later each time. */
        lc_close(client);
        /* Full jitter: many clients cut off by one node do not all come back at once. */
        unsigned jittered = (unsigned)(rand() % (int)(backoff_ms + 1));
        struct timespec pause = {.tv_sec = jittered / 1000, .tv_nsec = (long)(jittered % 1000) * 1000000L};
        nanosleep(&pause, NULL);
        if (backoff_ms < 30000) backoff_ms *= 2;
    }
    printf("provider: %zu answered, %zu refused\n", t.answered, t.refused);
    running = NULL;
    lc_client_free(client);
    table_free(&t);
    return exit_code;
}
