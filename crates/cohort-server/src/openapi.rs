//! The OpenAPI 3.1 document, built from [`crate::ROUTES`].

use serde_json::{json, Map, Value};

use crate::ROUTES;

fn message_schema() -> Value {
    json!({
        "type": "object",
        "description": "A Segment message. Needs userId or anonymousId (alias: userId and previousId); track needs event.",
        "properties": {
            "type": {"type": "string", "enum": ["track", "identify", "page", "screen", "alias"]},
            "messageId": {"type": "string", "maxLength": 256, "description": "Idempotency key: a retried message is stored once."},
            "userId": {"type": ["string", "integer"]},
            "anonymousId": {"type": ["string", "integer"]},
            "previousId": {"type": ["string", "integer"]},
            "event": {"type": "string", "maxLength": 200},
            "timestamp": {"type": "string", "format": "date-time"},
            "originalTimestamp": {"type": "string", "format": "date-time"},
            "sentAt": {"type": "string", "format": "date-time"},
            "properties": {"type": "object"},
            "traits": {"type": "object"},
            "context": {"type": "object"},
            "integrations": {"type": "object"}
        }
    })
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["message", "code", "type", "link"],
        "properties": {
            "message": {"type": "string"},
            "code": {"type": "string", "description": "Stable: missing_write_key, invalid_write_key, payload_too_large, malformed_body, invalid_messages, writer_busy, store_failed, shutting_down; on loyalty routes also invalid_input, insufficient_points, redemption_limit, idempotency_key_reused, coupon_expired, coupon_not_available, threshold_not_met, budget_exhausted, quantity_exhausted, per_user_limit, not_found, conflict, loyalty_disabled (docs/loyalty.md); on query routes invalid_spec (with issues), query_failed, analytics_disabled (docs/analytics.md); on recommendation routes invalid_input, recommendations_disabled, model_unreadable (docs/recommend.md)."},
            "type": {"type": "string", "enum": ["auth", "invalid_request", "refused", "system", "internal"]},
            "link": {"type": "string"},
            "rejected": {"type": "array", "items": {"$ref": "#/components/schemas/RejectedMessage"}},
            "issues": {"type": "array", "items": {"type": "object", "required": ["field", "reason"], "properties": {
                "field": {"type": "string"}, "reason": {"type": "string"}}}}
        }
    })
}

fn ingest_operation(summary: &str, batch: bool) -> Value {
    let body = if batch {
        json!({"type": "object", "required": ["batch"], "properties": {
            "batch": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
            "sentAt": {"type": "string", "format": "date-time"}
        }})
    } else {
        json!({"$ref": "#/components/schemas/Message"})
    };
    let error = |description: &str| json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    json!({
        "summary": summary,
        "security": [{"writeKey": []}],
        "parameters": [{"name": "Content-Encoding", "in": "header", "required": false,
                        "schema": {"type": "string", "enum": ["gzip"]}}],
        "requestBody": {"required": true, "content": {"application/json": {"schema": body}}},
        "responses": {
            "200": {"description": "Every accepted message is committed; refused ones are listed (and kept as dead letters).",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}}},
            "400": error("The body is malformed, or every message was refused."),
            "401": error("Missing, unknown or revoked key (write or admin)."),
            "413": error("Body over the size limit."),
            "429": error("The writer is behind; retry after the Retry-After header's seconds."),
            "500": error("The store failed; nothing of the request was stored."),
            "503": error("Shutting down.")
        }
    })
}

/// An admin route (the shop's backend, with an admin key): its path
/// parameters, a JSON body for POSTs (fields in docs/loyalty.md) and the
/// loyalty error answers.
fn admin_operation(route: &crate::Route) -> Value {
    let error = |description: &str| json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let parameters: Vec<Value> = route
        .path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    if route.path.starts_with("/v1/query/") {
        return json!({
            "summary": route.summary,
            "description": "The body is the spec JSON of cohort-analytics (the same as `cohort … --spec FILE`); the answer is its result JSON. See docs/analytics.md.",
            "security": [{"adminKey": []}],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {
                "200": {"description": "The result.", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": error("Impossible spec (`invalid_spec`): every problem listed in `issues` as {field, reason}."),
                "401": error("Missing or unknown key."),
                "403": error("A write key (`wrong_role`): admin routes need an admin key."),
                "500": error("The query failed (`query_failed`)."),
                "503": error("The server runs without an analytics store (`analytics_disabled`).")
            }
        });
    }
    if route.path.starts_with("/v1/recommendations/") || route.path.starts_with("/v1/items/") {
        return recommend_operation(route, parameters);
    }
    let mut operation = json!({
        "summary": route.summary,
        "security": [{"adminKey": []}],
        "parameters": parameters,
        "responses": {
            "200": {"description": "Done (or, for a repeated idempotency key, the first answer again).",
                    "content": {"application/json": {"schema": {"type": "object"}}}},
            "400": error("A field is missing or invalid (named in the message)."),
            "401": error("Missing or unknown key."),
            "403": error("A write key (`wrong_role`): admin routes need an admin key."),
            "404": error("Unknown member, coupon, template or order."),
            "409": error("The idempotency key was used for another request, or the request conflicts with stored data."),
            "422": error("Refused by the rules: insufficient points, coupon expired, threshold not met, budget exhausted…"),
            "503": error("The server runs without a loyalty store, or is shutting down.")
        }
    });
    if route.method == "POST" {
        operation["requestBody"] =
            json!({"required": true, "content": {"application/json": {"schema": {"type": "object"}}}});
    }
    operation
}

/// A recommendation route: query parameters and answers (docs/recommend.md).
fn recommend_operation(route: &crate::Route, mut parameters: Vec<Value>) -> Value {
    let error = |description: &str| json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let query = |name: &str, description: &str, schema: Value| json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema});
    if route.method == "GET" {
        parameters.push(query(
            "n",
            "List length (default 10).",
            json!({"type": "integer", "minimum": 1, "maximum": crate::recommend::MAX_N}),
        ));
    }
    if route.path == "/v1/recommendations/{user}" {
        parameters.push(query(
            "placement",
            "Where the list is shown (default home).",
            json!({"type": "string", "enum": ["home", "cart", "order", "similar", "bought_together"]}),
        ));
        parameters.push(query(
            "items",
            "Cart or order products, comma separated (cart and order).",
            json!({"type": "string"}),
        ));
        parameters.push(query(
            "product",
            "The product shown (similar and bought_together).",
            json!({"type": "string"}),
        ));
    }
    json!({
        "summary": route.summary,
        "security": [{"adminKey": []}],
        "parameters": parameters,
        "responses": {
            "200": {"description": "The list, best first: items of {product_id, score, source, category}.",
                    "content": {"application/json": {"schema": {"type": "object"}}}},
            "400": error("A query parameter is missing or invalid (`invalid_input`, named in the message)."),
            "401": error("Missing or unknown key."),
            "403": error("A write key (`wrong_role`): recommendation routes need an admin key."),
            "500": error("The model file could not be read (`model_unreadable`, reload only)."),
            "503": error("No trained model (`recommendations_disabled`).")
        }
    })
}

/// The document served at `/openapi.json`.
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let operation = match route.ingest {
            Some(call) => ingest_operation(route.summary, call.is_none()),
            None if route.admin => admin_operation(route),
            None => json!({"summary": route.summary, "responses": {"200": {"description": "OK"}}}),
        };
        let item = paths.entry(route.path.to_string()).or_insert_with(|| Value::Object(Map::new()));
        item[route.method.to_ascii_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Cohort collection API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Segment-compatible HTTP Tracking API. See docs/collection.md."},
        "paths": paths,
        "components": {
            "securitySchemes": {"writeKey": {"type": "http", "scheme": "basic",
                                             "description": "The write key as the user name, empty password."},
                                "adminKey": {"type": "http", "scheme": "basic",
                                             "description": "A secret admin key as the user name, empty password."}},
            "schemas": {
                "Message": message_schema(),
                "Error": error_schema(),
                "RejectedMessage": {"type": "object", "required": ["index", "field", "reason"], "properties": {
                    "index": {"type": "integer"}, "messageId": {"type": "string"},
                    "field": {"type": "string"}, "reason": {"type": "string"}
                }},
                "Accepted": {"type": "object", "required": ["success", "accepted", "rejected"], "properties": {
                    "success": {"type": "boolean"}, "accepted": {"type": "integer"},
                    "rejected": {"type": "array", "items": {"$ref": "#/components/schemas/RejectedMessage"}}
                }}
            }
        }
    })
}
