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

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../lambdas/graphql/schema.graphql",
    query_path = "graphql/start_checkout.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct StartCheckout;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../lambdas/graphql/schema.graphql",
    query_path = "graphql/pay_ticket.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct PayTicket;

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

/// Who asks: the personal link's token (sent as `Invitation-Token`) or the signed-in person.
#[derive(Clone, Copy)]
enum Asker<'a> {
    Link(&'a str),
    Viewer(Auth),
}

impl Asker<'_> {
    /// The header that says who asks; none when the sign-in has already ended.
    fn header(self) -> Result<(&'static str, String), Unavailable> {
        match self {
            Self::Link(token) => Ok(("Invitation-Token", token.to_owned())),
            Self::Viewer(auth) => match auth.token() {
                Some(token) => Ok(("Authorization", format!("Bearer {token}"))),
                None => Err(self.refused()),
            },
        }
    }

    /// The platform did not accept who asked: a lapsed sign-in ends the session (the page then
    /// asks to sign in again) instead of showing as an error.
    fn refused(self) -> Unavailable {
        match self {
            Self::Link(_) => Unavailable("the platform did not accept this link".into()),
            Self::Viewer(auth) => {
                auth.lapse();
                Unavailable("your sign-in has ended; sign in again".into())
            }
        }
    }
}

/// Runs `Q` as `asker`; only the operation's own types are generic, the rest is one copy.
async fn ask<Q: GraphQLQuery>(
    asker: Asker<'_>,
    variables: Q::Variables,
) -> Result<Q::ResponseData, Unavailable> {
    let body = serde_json::to_string(&Q::build_query(variables)).map_err(|e| Unavailable(e.to_string()))?;
    let text = post(body, asker).await?;
    let answer: graphql_client::Response<Q::ResponseData> =
        serde_json::from_str(&text).map_err(|e| Unavailable(e.to_string()))?;
    let failed = answer
        .errors
        .as_ref()
        .and_then(|e| e.first())
        .map(|e| e.message.clone());
    match (answer.data, failed) {
        (_, Some(why)) => Err(Unavailable(why)),
        (Some(data), None) => Ok(data),
        (None, None) => Err(Unavailable("the platform sent no answer".into())),
    }
}

/// Runs `Q` for a guest: with the personal link's token when the page came from one, else as
/// the signed-in person (the API matches their verified email to the invitation).
pub async fn as_guest<Q: GraphQLQuery>(
    auth: Auth,
    link_token: &str,
    variables: Q::Variables,
) -> Result<Q::ResponseData, Unavailable> {
    let asker = if link_token.is_empty() {
        Asker::Viewer(auth)
    } else {
        Asker::Link(link_token)
    };
    ask::<Q>(asker, variables).await
}

/// Runs `Q` as the signed-in person; a refused token ends the session (the page then asks to
/// sign in again) instead of showing as an error.
pub async fn as_viewer<Q: GraphQLQuery>(
    auth: Auth,
    variables: Q::Variables,
) -> Result<Q::ResponseData, Unavailable> {
    ask::<Q>(Asker::Viewer(auth), variables).await
}

/// The request itself, apart from the operation's types: one copy of this code serves every
/// operation, where a generic one was a copy per operation.
async fn post(body: String, asker: Asker<'_>) -> Result<String, Unavailable> {
    let (header, value) = asker.header()?;
    let response = gloo_net::http::Request::post("/graphql")
        .header(header, &value)
        .header("Content-Type", "application/json")
        .body(body)
        .map_err(|e| Unavailable(e.to_string()))?
        .send()
        .await
        .map_err(|_| Unavailable("the platform cannot be reached; check your connection".into()))?;
    if response.status() == 401 {
        return Err(asker.refused());
    }
    if !response.ok() {
        return Err(Unavailable(format!(
            "the platform answered {} {}; try again in a moment",
            response.status(),
            response.status_text()
        )));
    }
    response.text().await.map_err(|e| Unavailable(e.to_string()))
}
