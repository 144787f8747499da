/* Names for SDK statuses and the contract's error codes. */
#include "internal.h"

const char *lc_strerror(lc_status status) {
    switch (status) {
    case LC_OK: return "ok";
    case LC_ERR_INVALID_ARGUMENT: return "invalid argument";
    case LC_ERR_NO_MEMORY: return "out of memory";
    case LC_ERR_CONNECT: return "cannot connect to the core";
    case LC_ERR_TLS_CONFIG: return "certificate, key or CA bundle cannot be loaded";
    case LC_ERR_TLS: return "TLS handshake failed";
    case LC_ERR_REFUSED: return "refused by the core";
    case LC_ERR_CLOSED: return "the core closed the connection";
    case LC_ERR_TRUNCATED: return "the connection closed without close_notify";
    case LC_ERR_IO: return "socket error";
    case LC_ERR_TIMEOUT: return "timed out";
    case LC_ERR_FRAME_TOO_LARGE: return "frame too large";
    case LC_ERR_MALFORMED_FRAME: return "malformed frame";
    case LC_ERR_MALFORMED_MESSAGE: return "frame is not a valid Envelope";
    case LC_ERR_PROTOCOL: return "the core broke the protocol";
    case LC_ERR_UNSUPPORTED_VERSION: return "unsupported protocol version";
    case LC_ERR_NOT_CONNECTED: return "not connected";
    case LC_ERR_GOING_AWAY: return "the core is going away";
    case LC_ERR_TOO_MANY_IN_FLIGHT: return "too many requests in flight";
    case LC_ERR_STOPPED: return "stopped";
    }
    return "unknown status";
}

const char *lc_error_code_name(int code) {
    /* The names come from the .proto itself, so they stay in step with the contract. */
    const ProtobufCEnumValue *value = protobuf_c_enum_descriptor_get_value(&linkcore__v1__error_code__descriptor, code);
    return value != NULL ? value->name : "UNKNOWN_ERROR_CODE";
}
