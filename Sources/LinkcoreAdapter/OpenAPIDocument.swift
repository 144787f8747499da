/// The local API's OpenAPI 3 document, served at `/openapi.json` and committed as
/// `docs/adapter-openapi.json` (`linkcore-adapter openapi > docs/adapter-openapi.json`).
/// Kept in the binary so that what is served is always what this build implements; a test
/// checks every path here against `APIRouter.routes` and calls each one.
public enum OpenAPIDocument {
    public static let json = #"""
{
  "openapi": "3.0.3",
  "info": {
    "title": "linkcore-adapter local API",
    "version": "1.0.0",
    "description": "The organisation's side of linkcore. Its own systems call this API on 127.0.0.1 and speak only of their own person IDs; the adapter keeps the link codes. Every call carries Authorization: Bearer <the token in [api] token_file> (401 UNAUTHENTICATED without it); the Host header must name the listener (127.0.0.1, localhost or the listen host, with the port; 421 MISDIRECTED_REQUEST otherwise, against DNS rebinding); a request body must be Content-Type: application/json (415 UNSUPPORTED_MEDIA_TYPE); over [api] max_connections a connection gets 503 TOO_MANY_CONNECTIONS. Keep it on the loopback interface or a network the organisation controls. Errors are {\"error\": {code, number, message, provider_code, retryable}} with the core's error code names (docs/protocol.md section 7)."
  },
  "servers": [{"url": "http://127.0.0.1:8480"}],
  "security": [{"bearerToken": []}],
  "paths": {
    "/health": {
      "get": {
        "operationId": "health",
        "summary": "Liveness: the adapter process answers.",
        "responses": {"200": {"description": "alive", "content": {"application/json": {"schema": {"type": "object", "properties": {"status": {"type": "string", "enum": ["ok"]}}}}}}}
      }
    },
    "/status": {
      "get": {
        "operationId": "status",
        "summary": "The adapter's connection to the core, link table size, events waiting.",
        "responses": {"200": {"description": "status", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Status"}}}}}
      }
    },
    "/openapi.json": {
      "get": {
        "operationId": "openapi",
        "summary": "This document.",
        "responses": {"200": {"description": "the OpenAPI document", "content": {"application/json": {"schema": {"type": "object"}}}}}
      }
    },
    "/links": {
      "post": {
        "operationId": "requestLink",
        "summary": "Obtain a link for a person through the matching authority, with the resident's consent.",
        "description": "Sends the four basic facts or the My Number to the matcher (never to the core), waits for the core to issue this organisation's link code, stores it against person_id and returns it. Give exactly one of facts or my_number.",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/LinkRequest"}}}},
        "responses": {
          "201": {"description": "linked", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Link"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "422": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"},
          "504": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/links/{person_id}": {
      "get": {
        "operationId": "getLink",
        "summary": "The stored link for one of the organisation's person IDs.",
        "parameters": [{"name": "person_id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {
          "200": {"description": "the link", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Link"}}}},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/ask": {
      "post": {
        "operationId": "ask",
        "summary": "Ask another organisation a question about a person (mediation through the core).",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AskRequest"}}}},
        "responses": {
          "200": {"description": "answered", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AskAnswer"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"},
          "422": {"$ref": "#/components/responses/Error"},
          "502": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"},
          "504": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/events": {
      "get": {
        "operationId": "listEvents",
        "summary": "Change events received from the core, oldest first; those not yet acknowledged unless all=true.",
        "parameters": [
          {"name": "all", "in": "query", "required": false, "schema": {"type": "boolean", "default": false}},
          {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}
        ],
        "responses": {
          "200": {"description": "events", "content": {"application/json": {"schema": {"type": "object", "required": ["events"], "properties": {"events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}}}}},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/events/ack": {
      "post": {
        "operationId": "acknowledgeEvents",
        "summary": "Mark events as handled by the organisation's systems.",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["event_ids"], "properties": {"event_ids": {"type": "array", "maxItems": 1000, "items": {"type": "string"}}}}}}},
        "responses": {
          "200": {"description": "how many were newly marked", "content": {"application/json": {"schema": {"type": "object", "properties": {"acknowledged": {"type": "integer"}}}}}},
          "400": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/access-log/{person_id}": {
      "get": {
        "operationId": "accessLog",
        "summary": "Portal adapters only: every access-log entry about a resident (the residents' portal view).",
        "description": "The core serves this to the portal role only; any other organisation gets 403 PERMISSION_DENIED.",
        "parameters": [{"name": "person_id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {
          "200": {"description": "entries in log order", "content": {"application/json": {"schema": {"type": "object", "required": ["entries"], "properties": {"entries": {"type": "array", "items": {"$ref": "#/components/schemas/AccessLogEntry"}}}}}}},
          "403": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/statement": {
      "get": {
        "operationId": "feeStatement",
        "summary": "The organisation's own fee statement for a month (read from the core).",
        "parameters": [{"name": "period", "in": "query", "required": false, "description": "YYYY-MM; the current month (JST) by default", "schema": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}}],
        "responses": {
          "200": {"description": "statement", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Statement"}}}},
          "422": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    }
  },
  "components": {
    "securitySchemes": {
      "bearerToken": {"type": "http", "scheme": "bearer", "description": "The token in the adapter's [api] token_file (mode 0600; created with a random token at first start)."}
    },
    "responses": {
      "Error": {"description": "refused or failed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    },
    "schemas": {
      "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message", "retryable"], "properties": {
          "code": {"type": "string", "example": "NOT_PERMITTED"},
          "number": {"type": "integer", "description": "ErrorCode number (common.proto)"},
          "message": {"type": "string"},
          "provider_code": {"type": "string", "description": "the provider's own code for PROVIDER_REFUSED (NO_RECORD, BACKEND_TIMEOUT, BACKEND_FAILED, ...)"},
          "retryable": {"type": "boolean"}}}}
      },
      "Status": {
        "type": "object",
        "properties": {
          "org_code": {"type": "string"}, "core_connected": {"type": "boolean"}, "core_connects": {"type": "integer"},
          "core_last_error": {"type": "string"}, "matcher_configured": {"type": "boolean"},
          "backend": {"type": "string", "enum": ["dataset", "webhook"]}, "links": {"type": "integer"},
          "events_unacknowledged": {"type": "integer"}, "provide_requests": {"type": "integer"}
        }
      },
      "LinkRequest": {
        "type": "object", "required": ["person_id", "consent_ref"],
        "properties": {
          "person_id": {"type": "string", "description": "the organisation's own ID for the person"},
          "consent_ref": {"type": "string", "description": "the organisation's reference to the resident's consent"},
          "my_number": {"type": "string", "pattern": "^[0-9]{12}$"},
          "facts": {"$ref": "#/components/schemas/Facts"}
        }
      },
      "Facts": {
        "type": "object", "required": ["name", "address", "birth_date", "sex"],
        "properties": {
          "name": {"type": "string"}, "name_kana": {"type": "string"}, "address": {"type": "string"},
          "birth_date": {"type": "string", "format": "date"}, "sex": {"type": "string", "enum": ["M", "F"]}
        }
      },
      "Link": {
        "type": "object", "required": ["link_code", "key_index", "linked_at_ms"],
        "properties": {
          "person_id": {"type": "string"}, "link_code": {"type": "string"}, "key_index": {"type": "integer"},
          "linked_at_ms": {"type": "integer", "format": "int64"}, "consent_ref": {"type": "string"}
        }
      },
      "AskRequest": {
        "type": "object", "required": ["person_id", "bp_id", "provider_org", "info_type"],
        "properties": {
          "person_id": {"type": "string"}, "bp_id": {"type": "string", "description": "business process ID (whitelist)"},
          "provider_org": {"type": "string"}, "info_type": {"type": "string"}, "query": {"type": "string"},
          "deadline_ms": {"type": "integer", "description": "0 or absent: the core's default"},
          "idempotency_key": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$", "description": "absent: the adapter makes one. Sent to the core with the request and with every retry the adapter makes of it (on a retryable error or a lost connection); send the same key again to retry the same question: an answered mediation is charged and logged once"}
        }
      },
      "AskAnswer": {
        "type": "object", "required": ["mediation_id", "answer", "idempotency_key", "attempts", "repeated"],
        "properties": {
          "mediation_id": {"type": "string"}, "answer": {"type": "string"},
          "idempotency_key": {"type": "string", "description": "the key the request was sent with"},
          "attempts": {"type": "integer", "description": "requests sent to the core for this answer (1 + the adapter's retries)"},
          "repeated": {"type": "boolean", "description": "the core had already answered this key: not charged or logged again"}
        }
      },
      "Event": {
        "type": "object", "required": ["event_id", "link_code", "kind", "occurred_at_ms", "received_at_ms", "acknowledged"],
        "properties": {
          "event_id": {"type": "string"}, "link_code": {"type": "string"}, "person_id": {"type": "string"},
          "kind": {"type": "string", "enum": ["changed", "moved", "renamed", "died", "other"]},
          "occurred_at_ms": {"type": "integer", "format": "int64"}, "received_at_ms": {"type": "integer", "format": "int64"},
          "acknowledged": {"type": "boolean"}
        }
      },
      "AccessLogEntry": {
        "type": "object",
        "properties": {
          "mediation_id": {"type": "string"}, "at_ms": {"type": "integer", "format": "int64"},
          "requester_org": {"type": "string"}, "requester_name": {"type": "string"},
          "provider_org": {"type": "string"}, "provider_name": {"type": "string"},
          "bp_id": {"type": "string"}, "info_type": {"type": "string"},
          "outcome": {"type": "string", "enum": ["answered", "refused_by_whitelist", "invalid_link", "provider_unavailable", "provider_refused", "timed_out", "policy_failed", "unspecified"]},
          "repeats": {"type": "integer", "description": "times the requester repeated this answered request (same idempotency key) and got the answer again; charged and logged once"}
        }
      },
      "Statement": {
        "type": "object",
        "properties": {
          "org_code": {"type": "string"}, "org_name": {"type": "string"}, "period": {"type": "string"},
          "lines": {"type": "array", "items": {"type": "object", "properties": {
            "operation": {"type": "string"}, "tariff_id": {"type": "string"}, "count": {"type": "integer"},
            "unit_price_yen": {"type": "integer"}, "amount_yen": {"type": "integer"}}}},
          "total_yen": {"type": "integer"}, "ledger_entries": {"type": "integer"}
        }
      }
    }
  }
}
"""#
}
