/*
 * linkcore policy-module ABI, version 1.
 *
 * A policy module is a shared object that exports one C function:
 *
 *     const lc_policy_module *linkcore_policy_module(void);
 *
 * It returns a pointer to a static, immutable table (below). The host (linkcored) reads the frozen
 * prefix first (magic, abi_version, size) and refuses the module with a precise message when they
 * do not match what it speaks, before it touches anything else. Queries and decisions are
 * serialized protobuf messages of Protos/linkcore/v1/policy.proto: a C module decodes them with
 * protobuf-c, a Swift module with swift-protobuf. See docs/policy-modules.md.
 *
 * Versioning rules (learned from PostgreSQL's PG_MODULE_MAGIC, nginx's module signature and
 * OpenSSL's provider dispatch tables):
 *   - The entry point's name and the first three fields never change, in any ABI version, so a
 *     host can always say "module X is ABI 2, this linkcored speaks ABI 1" instead of crashing.
 *   - abi_version changes when an existing field or function changes meaning or signature. The
 *     host refuses any module whose abi_version differs from its own.
 *   - Within one abi_version, fields are only ever appended. `size` (sizeof the table the module
 *     was compiled with) tells the host which of them exist; the host refuses a table smaller
 *     than the version-1 layout. The same rule applies to lc_policy_host, in the other direction:
 *     a module must check host->size before using a callback added later.
 *   - `contract` names the protobuf package the module's messages come from ("linkcore.v1").
 *     A module built against another contract is refused.
 */
#ifndef LINKCORE_POLICY_H
#define LINKCORE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LC_POLICY_MAGIC 0x4C43504DU /* "LCPM" */
#define LC_POLICY_ABI_VERSION 1U
#define LC_POLICY_CONTRACT "linkcore.v1"
#define LC_POLICY_ENTRY_POINT "linkcore_policy_module"

/* What a module decides; fixes which query and decision messages it exchanges. */
typedef enum lc_policy_kind {
    LC_POLICY_KIND_WHITELIST = 1, /* WhitelistQuery     -> WhitelistDecision */
    LC_POLICY_KIND_FEES = 2,      /* FeeQuery           -> FeeDecision */
    LC_POLICY_KIND_EVENTS = 3,    /* EventRoutingQuery  -> EventRoutingDecision */
} lc_policy_kind;

/* Results of init and decide. Anything but LC_POLICY_OK fails closed in the host. */
typedef enum lc_policy_status {
    LC_POLICY_OK = 0,
    LC_POLICY_INVALID_QUERY = 1, /* the query bytes did not decode or lack a required field */
    LC_POLICY_INVALID_CONFIG = 2, /* init only: the configuration is wrong (say why in error) */
    LC_POLICY_INTERNAL = 3,       /* anything else: out of memory, broken invariant */
} lc_policy_status;

typedef enum lc_policy_log_level {
    LC_POLICY_LOG_DEBUG = 0,
    LC_POLICY_LOG_INFO = 1,
    LC_POLICY_LOG_WARNING = 2,
    LC_POLICY_LOG_ERROR = 3,
} lc_policy_log_level;

/*
 * Callbacks the host gives a module at init. Valid until shutdown returns; callable from any
 * thread. Modules must not log resident data (there is none in a query, keep it that way).
 */
typedef struct lc_policy_host {
    uint32_t size; /* sizeof(lc_policy_host) as the host was compiled; check before new fields */
    uint32_t reserved;
    void *context; /* pass back to every callback */
    void (*log)(void *context, int level, const char *message);
    /* Wall-clock time in milliseconds since the Unix epoch, as the host sees it (tests move it). */
    int64_t (*now_ms)(void *context);
} lc_policy_host;

/* The table a module exports. Static storage; the host never writes to it. */
typedef struct lc_policy_module {
    /* Frozen prefix: identical in every ABI version. */
    uint32_t magic;       /* LC_POLICY_MAGIC */
    uint32_t abi_version; /* LC_POLICY_ABI_VERSION the module was compiled against */
    uint32_t size;        /* sizeof(lc_policy_module) as the module was compiled */

    /* Version 1. */
    uint32_t kind;           /* lc_policy_kind */
    const char *contract;    /* LC_POLICY_CONTRACT */
    const char *name;        /* short, for logs and status: "whitelist", "ratelimit" */
    const char *version;     /* the module's own version, free form: "1.0.0" */

    /*
     * Creates an instance from the module's configuration. config_path is the file the operator
     * named (for messages and relative paths); config/config_len are its bytes, read by the host.
     * On failure returns non-zero and writes a NUL-terminated reason into error (error_cap bytes).
     * Called once per load or reload; several instances of one module may live at once.
     */
    int (*init)(const char *config_path, const uint8_t *config, size_t config_len, const lc_policy_host *host,
                void **instance, char *error, size_t error_cap);

    /*
     * Decides one query. Called concurrently from several host threads with the same instance:
     * keep the instance read-only after init or lock inside. On LC_POLICY_OK *decision points at
     * *decision_len bytes of a serialized decision message owned by the module until the host
     * passes them to free_result. A module that takes longer than the host's deadline is
     * abandoned for that request (the host fails closed) but the call is left to finish.
     */
    int (*decide)(void *instance, const uint8_t *query, size_t query_len, uint8_t **decision,
                  size_t *decision_len);

    /* Releases what decide returned. */
    void (*free_result)(void *instance, uint8_t *decision, size_t decision_len);

    /*
     * Destroys an instance. The host calls it once, after the instance was replaced by a reload
     * and its last decide returned. The shared object itself is never unloaded (see the doc).
     */
    void (*shutdown)(void *instance);
} lc_policy_module;

/* The one symbol a module exports. */
typedef const lc_policy_module *(*lc_policy_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* LINKCORE_POLICY_H */
