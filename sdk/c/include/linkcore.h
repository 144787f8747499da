/*
 * linkcore C SDK: a peer of linkcored built from the public contract alone
 * (the .proto files under Protos/linkcore/v1 and docs/protocol.md) with protobuf-c and OpenSSL.
 *
 * One lc_client is one connection: TCP + mutual TLS 1.3 + Hello/Welcome, then frames of
 * 4-byte big-endian length + one serialized Linkcore__V1__Envelope. There is no global state:
 * separate clients may be used from separate threads; one client must not be shared between
 * threads without a lock (lc_stop excepted, which is also async-signal-safe).
 *
 * Messages are the protobuf-c types generated from the .proto files
 * (the .pb-c.h files under generated/linkcore/v1), so every field of the contract is reachable.
 */
#ifndef LINKCORE_H
#define LINKCORE_H

#include <stddef.h>
#include <stdint.h>

#include "linkcore/v1/envelope.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LC_PROTOCOL_VERSION 1u           /* the only version this SDK speaks */
#define LC_DEFAULT_PORT 7400u
#define LC_DEFAULT_MAX_FRAME_BYTES 1048576u /* until Welcome says otherwise */
#define LC_DEFAULT_TIMEOUT_MS 10000u

/* What an SDK call returns. Negative values are failures; lc_strerror names them. */
typedef enum lc_status {
    LC_OK = 0,
    LC_ERR_INVALID_ARGUMENT = -1,   /* a NULL or malformed argument, or a request with no body */
    LC_ERR_NO_MEMORY = -2,
    LC_ERR_CONNECT = -3,            /* name resolution or TCP connect failed */
    LC_ERR_TLS_CONFIG = -4,         /* certificate, key or CA file could not be loaded */
    LC_ERR_TLS = -5,                /* TLS handshake failed, e.g. the core's certificate did not verify */
    LC_ERR_REFUSED = -6,            /* the core answered with an Error: see lc_last_error */
    LC_ERR_CLOSED = -7,             /* the core closed the connection (close_notify) */
    LC_ERR_TRUNCATED = -8,          /* TCP closed without close_notify: in-flight requests failed */
    LC_ERR_IO = -9,                 /* a socket error (reset, ...): see lc_detail */
    LC_ERR_TIMEOUT = -10,           /* nothing within the allowed time */
    LC_ERR_FRAME_TOO_LARGE = -11,   /* a frame above the limit (not sent / connection closed) */
    LC_ERR_MALFORMED_FRAME = -12,   /* the core sent a zero-length frame; connection closed */
    LC_ERR_MALFORMED_MESSAGE = -13, /* a complete frame that is not an Envelope; connection stays */
    LC_ERR_PROTOCOL = -14,          /* the core broke the protocol (e.g. no Welcome after Hello) */
    LC_ERR_UNSUPPORTED_VERSION = -15, /* Welcome names a version this SDK does not speak */
    LC_ERR_NOT_CONNECTED = -16,     /* lc_connect first (or again, after a failure) */
    LC_ERR_GOING_AWAY = -17,        /* the core is draining: start no new requests, reconnect later */
    LC_ERR_TOO_MANY_IN_FLIGHT = -18,/* Welcome.max_in_flight requests already outstanding */
    LC_ERR_STOPPED = -19            /* lc_stop was called */
} lc_status;

/* Connection settings. Strings are copied by lc_client_new. */
typedef struct lc_config {
    const char *host;              /* the core's host name or address */
    uint16_t port;                 /* 0: 7400 */
    const char *server_name;       /* the name verified in the core's certificate; NULL: host */
    const char *certificate_file;  /* the organisation's certificate (PEM; may carry the chain) */
    const char *private_key_file;  /* its private key (PEM) */
    const char *ca_file;           /* the network CA bundle (PEM) that signs the core */
    const char *software;          /* Hello.software, for the core's logs; NULL: "linkcore-c/0.1" */
    const char *org_code;          /* optional Hello.org_code; the core refuses a mismatch */
    int accepts_pushes;            /* Hello.accepts_pushes: ProvideRequest, LinkIssued, ChangeEvent */
    uint32_t timeout_ms;           /* connect, handshake+Hello, and each lc_request; 0: 10 s */
    uint32_t frame_timeout_ms;     /* a frame that has started must finish within this; 0: 10 s */
    uint32_t max_frame_bytes;      /* largest frame accepted from the core; 0: 1 MiB */
} lc_config;

/* A typed refusal from the core (the contents of a Linkcore__V1__Error). */
typedef struct lc_error {
    uint64_t id;                   /* the request it answers; 0: connection-level */
    int code;                      /* a Linkcore__V1__ErrorCode; 0 when there is none */
    int retryable;
    uint32_t retry_after_ms;
    char message[256];
    char provider_code[64];
} lc_error;

typedef struct lc_client lc_client;

/* Creates an unconnected client; NULL if config lacks host/certificate/key/CA or memory is short. */
lc_client *lc_client_new(const lc_config *config);
/* Closes (lc_close) and frees. NULL is ignored. */
void lc_client_free(lc_client *client);

/*
 * Connects: TCP, TLS 1.3 with the client certificate (the core's certificate verified against
 * ca_file and server_name), Hello{min=max=1}, Welcome. A refusal (CERTIFICATE_REJECTED,
 * ORG_UNKNOWN, UNSUPPORTED_VERSION, ...) returns LC_ERR_REFUSED with the code in lc_last_error.
 * May be called again after a failure or lc_close to reconnect; request ids restart at 1.
 */
lc_status lc_connect(lc_client *client);
/*
 * Several core nodes, in order of preference: "host:port" each ("[v6]:port"), copied; they replace
 * config.host/port (server_name, when the config gave none, follows each host). lc_connect then
 * tries them in a round from the current node, cycling, and the first that completes TLS and
 * Hello/Welcome becomes current; after a connection that was up, the next lc_connect starts with
 * the next node. A failed round returns the last node's status, and lc_detail names every node's
 * failure: back off (with jitter) before the next round. LC_ERR_INVALID_ARGUMENT: a malformed address.
 */
lc_status lc_set_addresses(lc_client *client, const char *const *addresses, size_t count);
/* "host:port" of the node connected to (or the one lc_connect tries first). */
const char *lc_current_address(const lc_client *client);
/* Sends GoingAway and close_notify, then closes the socket. Safe to call twice. */
void lc_close(lc_client *client);

/* The Welcome of the current connection, or NULL before lc_connect succeeds. */
const Linkcore__V1__Welcome *lc_welcome(const lc_client *client);
/* The last Error the core sent (code 0 if none since lc_connect). */
const lc_error *lc_last_error(const lc_client *client);
/* A sentence about the last failure (socket errno, OpenSSL reason, the core's message). */
const char *lc_detail(const lc_client *client);
/* Whether the core has sent GoingAway on this connection. */
int lc_going_away(const lc_client *client);
/* Requests sent and not yet answered. */
uint32_t lc_in_flight(const lc_client *client);

/* A short English sentence for a status; never NULL. */
const char *lc_strerror(lc_status status);
/* The contract's name for an ErrorCode ("PROVIDER_REFUSED"), or "UNKNOWN_ERROR_CODE". */
const char *lc_error_code_name(int code);

/* ---- Frames: for pipelining and for messages the SDK has no helper for. ---- */

/* Sends one envelope as is (a reply keeps the id of the request it answers). */
lc_status lc_send(lc_client *client, const Linkcore__V1__Envelope *envelope);
/* Numbers a request (envelope->id = next id, from 1 upwards), sends it and counts it in flight. */
lc_status lc_send_request(lc_client *client, Linkcore__V1__Envelope *envelope);
/*
 * Reads one envelope. timeout_ms bounds the wait for a frame to start (-1: no bound); once
 * started, a frame must complete within frame_timeout_ms. LC_ERR_TIMEOUT leaves the
 * connection usable. Free *out with lc_envelope_free. Replies are counted out of flight,
 * GoingAway and connection-level Errors are remembered; nothing is answered: see lc_serve.
 */
lc_status lc_recv(lc_client *client, int timeout_ms, Linkcore__V1__Envelope **out);
void lc_envelope_free(Linkcore__V1__Envelope *envelope);
/* Whether a body starts a request (as opposed to a reply, GoingAway or Error). */
int lc_body_is_request(Linkcore__V1__Envelope__BodyCase body);

/* ---- Serving requests the core starts. ---- */

/* The answer a provide handler gives. Owned by the SDK; valid during the callback only. */
typedef struct lc_reply lc_reply;
/* Answer the ProvideRequest with these bytes (copied). 0, or -1 if memory is short. */
int lc_reply_answer(lc_reply *reply, const void *answer, size_t length);
/* Refuse it: the core relays Error{PROVIDER_REFUSED, provider_code} to the requester. */
void lc_reply_refuse(lc_reply *reply, const char *provider_code, const char *message);

typedef struct lc_handlers {
    void *user;  /* passed to every callback */
    /* Mediation (core -> provider B). No call to lc_reply_*: refused with provider_code "NO_ANSWER". */
    void (*provide)(void *user, const Linkcore__V1__ProvideRequest *request, lc_reply *reply);
    /* A link issued for one of our matching numbers: return 0 once stored (LinkIssuedAck);
     * non-zero replies Error(UNAVAILABLE) and the core keeps it for a later delivery. */
    int (*link_issued)(void *user, const Linkcore__V1__LinkIssued *issued);
    /* A change event (drop duplicates by event_id): 0 acknowledges, non-zero as above. */
    int (*change_event)(void *user, const Linkcore__V1__ChangeEvent *event);
    /* The core is draining; lc_serve keeps answering until it closes. */
    void (*going_away)(void *user, const Linkcore__V1__GoingAway *going_away);
} lc_handlers;

/*
 * Answers the core's requests until the connection ends or lc_stop: ProvideRequest, LinkIssued
 * and ChangeEvent through the handlers (a missing handler answers UNKNOWN_MESSAGE), Ping with
 * Pong; pings the core when nothing was sent for Welcome.keepalive_ms. Returns LC_OK after
 * lc_stop, LC_ERR_GOING_AWAY when the core closed after GoingAway, or the failure.
 */
lc_status lc_serve(lc_client *client, const lc_handlers *handlers);
/* Makes lc_serve (or any blocked call) return soon, with LC_ERR_STOPPED from calls other than
 * lc_serve. Sticky: the client stays stopped, so a stop cannot be lost. Async-signal-safe. */
void lc_stop(lc_client *client);

/* ---- Requests. ---- */

/*
 * Sends a request and waits (up to timeout_ms) for its reply, answering requests the core
 * starts meanwhile through handlers (may be NULL). An Error reply returns LC_ERR_REFUSED (see
 * lc_last_error) and *reply stays NULL. Free *reply with lc_envelope_free.
 */
lc_status lc_request(lc_client *client, Linkcore__V1__Envelope *request, const lc_handlers *handlers,
                     Linkcore__V1__Envelope **reply);
/* Pings with a small payload and checks the echo; *rtt_us gets the round trip (may be NULL). */
lc_status lc_ping(lc_client *client, uint64_t *rtt_us);

/* ---- Mediation as requester A (docs/protocol.md §8). ---- */

/* Room for a key lc_idempotency_key makes (32 hex characters and the NUL). The contract allows
 * keys of 1-64 characters of [A-Za-z0-9_-]. */
#define LC_IDEMPOTENCY_KEY_SIZE 33

/* Fills key with a fresh random idempotency key. 0, or -1 when no random bytes were had. */
int lc_idempotency_key(char key[LC_IDEMPOTENCY_KEY_SIZE]);

/*
 * Sends request (a MediateRequest) with idempotency_key (NULL or "": a fresh one) and, while the
 * failure is retryable, sends it again with the same key, up to `attempts` sends in all:
 * a refusal the core marks retryable (lc_last_error()->retryable, honouring retry_after_ms), or
 * a connection lost or refused (the client reconnects), since the core may have decided and
 * logged the request although its reply never came. The core charges and logs an answered
 * mediation once per key; a retry of one gets MediateResponse.repeated set. Pauses 100 ms,
 * doubling up to 3.2 s, between sends. *attempts_made (may be NULL) gets the sends made.
 * request->idempotency_key is restored before returning. As lc_request otherwise.
 */
lc_status lc_mediate(lc_client *client, Linkcore__V1__MediateRequest *request, const char *idempotency_key, int attempts,
                     Linkcore__V1__Envelope **reply, int *attempts_made);

#ifdef __cplusplus
}
#endif

#endif /* LINKCORE_H */
