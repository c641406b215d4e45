//! The GraphQL API, the app's only backend: operations typed from `graphql/*.graphql` against
//! the API's checked-in SDL, so a schema change that breaks the app fails its build.

use graphql_client::GraphQLQuery;

use crate::session::Auth;

// One operation per file: graphql_client sends its file's whole text with every request.

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../lambdas/graphql/schema.graphql",
    query_path = "graphql/my_events.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct MyEvents;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../lambdas/graphql/schema.graphql",
    query_path = "graphql/managed_event.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct ManagedEvent;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../lambdas/graphql/schema.graphql",
    query_path = "graphql/create_event.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct CreateEvent;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../lambdas/graphql/schema.graphql",
    query_path = "graphql/update_event.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct UpdateEvent;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../lambdas/graphql/schema.graphql",
    query_path = "graphql/publish_event.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct PublishEvent;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../lambdas/graphql/schema.graphql",
    query_path = "graphql/invite_guests.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct InviteGuests;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../lambdas/graphql/schema.graphql",
    query_path = "graphql/revoke_invitation.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct RevokeInvitation;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../lambdas/graphql/schema.graphql",
    query_path = "graphql/cancel_event.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct CancelEvent;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../lambdas/graphql/schema.graphql",
    query_path = "graphql/presign_upload.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct PresignUpload;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../lambdas/graphql/schema.graphql",
    query_path = "graphql/attach_media.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct AttachMedia;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../lambdas/graphql/schema.graphql",
    query_path = "graphql/invitation_page.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct InvitationPage;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../lambdas/graphql/schema.graphql",
    query_path = "graphql/answer_invitation.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct AnswerInvitation;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../lambdas/graphql/schema.graphql",
    query_path = "graphql/my_invitations.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct MyInvitations;

/// The `(field, message)` pairs of a payload's `userErrors` (each operation has types of its
/// own, so a macro rather than a function).
macro_rules! user_errors {
    ($payload:expr) => {
        $payload
            .user_errors
            .iter()
            .map(|e| (e.field.as_deref(), e.message.as_str()))
    };
}
pub(crate) use user_errors;

/// Why an operation has no answer: the API could not be reached or refused the operation.
/// Never shown as "not found".
#[derive(Debug, Clone, PartialEq)]
pub struct Unavailable(pub String);

/// Runs `Q` with the personal link's token in the `Invitation-Token` header.
pub async fn with_link_token<Q: GraphQLQuery>(
    variables: Q::Variables,
    link_token: &str,
) -> Result<Q::ResponseData, Unavailable> {
    send::<Q>(variables, ("Invitation-Token", link_token.to_owned()))
        .await
        .map_err(|failure| match failure {
            Failure::SignedOut => Unavailable("the platform did not accept this link".into()),
            Failure::Unavailable(why) => why,
        })
}

/// Runs `Q` for a guest: with the personal link's token when the page came from one, else as
/// the signed-in person (the API matches their verified email to the invitation).
pub async fn as_guest<Q: GraphQLQuery>(
    auth: Auth,
    link_token: &str,
    variables: Q::Variables,
) -> Result<Q::ResponseData, Unavailable> {
    if link_token.is_empty() {
        as_viewer::<Q>(auth, variables).await
    } else {
        with_link_token::<Q>(variables, link_token).await
    }
}

/// Runs `Q` as the signed-in person; a refused token ends the session (the page then asks to
/// sign in again) instead of showing as an error.
pub async fn as_viewer<Q: GraphQLQuery>(
    auth: Auth,
    variables: Q::Variables,
) -> Result<Q::ResponseData, Unavailable> {
    let Some(token) = auth.token() else {
        auth.lapse();
        return Err(Unavailable("your sign-in has ended; sign in again".into()));
    };
    match send::<Q>(variables, ("Authorization", format!("Bearer {token}"))).await {
        Ok(data) => Ok(data),
        Err(Failure::SignedOut) => {
            auth.lapse();
            Err(Unavailable("your sign-in has ended; sign in again".into()))
        }
        Err(Failure::Unavailable(why)) => Err(why),
    }
}

enum Failure {
    SignedOut,
    Unavailable(Unavailable),
}

async fn send<Q: GraphQLQuery>(
    variables: Q::Variables,
    header: (&str, String),
) -> Result<Q::ResponseData, Failure> {
    let unavailable = |why: String| Failure::Unavailable(Unavailable(why));
    let body = serde_json::to_string(&Q::build_query(variables)).map_err(|e| unavailable(e.to_string()))?;
    let text = post(body, header).await?;
    let answer: graphql_client::Response<Q::ResponseData> =
        serde_json::from_str(&text).map_err(|e| unavailable(e.to_string()))?;
    match (answer.data, answer.errors) {
        (Some(data), None) => Ok(data),
        (_, Some(errors)) if !errors.is_empty() => Err(unavailable(errors[0].message.clone())),
        (Some(data), _) => Ok(data),
        (None, _) => Err(unavailable("the platform sent no answer".into())),
    }
}

/// The request itself, apart from the operation's types: one copy of this code serves every
/// operation, where a generic one was a copy per operation.
async fn post(body: String, (header, value): (&str, String)) -> Result<String, Failure> {
    let unavailable = |why: String| Failure::Unavailable(Unavailable(why));
    let response = gloo_net::http::Request::post("/graphql")
        .header(header, &value)
        .header("Content-Type", "application/json")
        .body(body)
        .map_err(|e| unavailable(e.to_string()))?
        .send()
        .await
        .map_err(|_| unavailable("the platform cannot be reached; check your connection".into()))?;
    if response.status() == 401 {
        return Err(Failure::SignedOut);
    }
    if !response.ok() {
        return Err(unavailable(format!(
            "the platform answered {} {}; try again in a moment",
            response.status(),
            response.status_text()
        )));
    }
    response.text().await.map_err(|e| unavailable(e.to_string()))
}
