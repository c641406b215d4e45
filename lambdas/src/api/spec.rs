//! The OpenAPI 3.1 description of `/api`, generated from the handlers' annotations. It is
//! checked in as `lambdas/openapi.json`; a test fails when the two differ.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{events, invitations, media};

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

pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The spec as checked in: pretty JSON with a final newline.
pub fn openapi_json() -> String {
    let mut json = openapi().to_pretty_json().expect("the spec serializes");
    json.push('\n');
    json
}
