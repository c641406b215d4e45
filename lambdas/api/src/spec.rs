//! The OpenAPI 3.1 description of `/api`, generated from the handlers' annotations. It is
//! checked in as `lambdas/openapi.json`; a test fails when the two differ.

use serde_json::{Map, Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{events, invitations, media, payments};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "slsplay command API",
        description = "Virtual VIP events. Writes are commands on an event-sourced store; reads come from \
                       read models built asynchronously, so a read right after a write may trail it \
                       by a moment (compare `version`). Errors are RFC 9457 problem details.",
        license(name = "Apache-2.0")
    ),
    paths(
        events::create,
        events::list_mine,
        events::show,
        events::update,
        events::publish,
        events::cancel,
        events::delete_draft,
        events::stats,
        media::presign,
        media::attach,
        invitations::invite,
        invitations::guest_list,
        invitations::revoke,
        invitations::list_mine,
        invitations::mine,
        invitations::rsvp,
        payments::checkout,
        payments::pay,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "events", description = "An organizer's events"),
        (name = "media", description = "Cover photo and video, uploaded straight to the blob store"),
        (name = "invitations", description = "Inviting guests and their answers"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An OpenID Connect token: Cognito on AWS, the development provider locally \
                         (`slsplay dev-token --email you@example.com`)",
                    ))
                    .build(),
            ),
        );
    }
}

/// The spec as served: utoipa's output, completed with what every route may answer and with
/// links from a created event to what can be done with it.
pub fn openapi() -> Value {
    let mut spec = serde_json::to_value(ApiDoc::openapi()).expect("the spec serializes");
    let Some(paths) = spec["paths"].as_object_mut() else {
        return spec;
    };
    let mut event_operations = Vec::new();
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            let writes = matches!(method.as_str(), "post" | "patch" | "put" | "delete");
            let Some(responses) = operation["responses"].as_object_mut() else {
                continue;
            };
            for (status, description) in COMMON_PROBLEMS {
                if writes || !WRITE_ONLY.contains(status) {
                    responses
                        .entry(*status)
                        .or_insert_with(|| problem_response(description));
                }
            }
            if let Some(parameters) = operation["parameters"].as_array_mut() {
                for parameter in parameters {
                    if let Some(schema) = header_schema(parameter["name"].as_str().unwrap_or_default()) {
                        parameter["schema"] = schema;
                    }
                }
            }
            if path.contains("{event_id}")
                && !path.contains("{invitation_id}")
                && let Some(id) = operation["operationId"].as_str()
            {
                event_operations.push(id.to_owned());
            }
        }
    }
    // utoipa 5 writes a link's target as `operation_id`; OpenAPI says `operationId`. The
    // created event is linked to every operation on it, for clients and stateful testing.
    let links: Map<String, Value> = event_operations
        .iter()
        .map(|id| {
            let link = json!({ "operationId": id, "parameters": { "event_id": "$response.body#/event_id" } });
            (id.clone(), link)
        })
        .collect();
    spec["paths"]["/api/events"]["post"]["responses"]["201"]["links"] = Value::Object(links);
    spec
}

/// Problems any route may answer with; those in `WRITE_ONLY` only where a body is sent or a
/// command runs.
const COMMON_PROBLEMS: &[(&str, &str)] = &[
    ("400", "A malformed request: bad JSON, query parameter or header"),
    ("401", "No valid bearer token"),
    (
        "403",
        "Signed in, but not allowed (a guest acting as the organizer)",
    ),
    ("404", "No such event, or not yours to see"),
    (
        "409",
        "The event's state does not allow this, or it is busy; see the problem type",
    ),
    ("412", "If-Match named a version the event has moved past"),
    ("413", "The body is larger than the API accepts"),
    ("415", "The body is not JSON"),
    ("422", "Some fields are invalid; `errors` names each"),
    ("429", "Too many requests from this caller; see Retry-After"),
    ("503", "The platform could not complete the request; retry"),
];
const WRITE_ONLY: &[&str] = &["409", "412", "413", "415", "422"];

/// The exact form of the headers the API reads, which utoipa's tuple syntax cannot state.
fn header_schema(name: &str) -> Option<Value> {
    match name {
        "If-Match" => Some(json!({ "type": "string", "pattern": "^(\\*|(W/)?\"[0-9]{1,18}\")$" })),
        "Idempotency-Key" => {
            Some(json!({ "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$" }))
        }
        _ => None,
    }
}

fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } },
    })
}

/// The spec as checked in: pretty JSON with a final newline.
pub fn openapi_json() -> String {
    let mut json = serde_json::to_string_pretty(&openapi()).expect("the spec serializes");
    json.push('\n');
    json
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn the_checked_in_openapi_spec_is_the_one_the_code_serves() {
        let spec = super::openapi_json();
        let parsed: serde_json::Value = serde_json::from_str(&spec).unwrap();
        assert_eq!(parsed["openapi"], "3.1.0");
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
        slsplay_tests::fixtures::matches_checked_in(&path, &spec);
    }
}
