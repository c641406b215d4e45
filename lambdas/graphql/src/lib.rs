//! The GraphQL API for the web app (async-graphql): reads only the read models, and sends
//! every write to the REST command API with the caller's credentials.

pub mod commands;
pub mod connection;
pub mod limits;
pub mod loaders;
pub mod mutations;
pub mod types;

use std::sync::Arc;

use async_graphql::http::MultipartOptions;
use async_graphql::{Context, EmptySubscription, ID, Object, Result, Schema};
use async_graphql_axum::GraphQLResponse;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router, middleware};
use slsplay_projections::read_models::access::guest_by_credential;
use slsplay_projections::read_models::{EventPage, GuestListEntry, InvitationByEmail, OrganizerEvent};
use slsplay_projections::schema::Key;
use slsplay_projections::store::{Queries, ReadQueries};

use commands::CommandApi;
use loaders::{EventLoader, InvitationLoader};
use mutations::Mutation;
use slsplay_aggregates::virtual_event::InvitationCredential;
use slsplay_api::auth::{self, Authenticated, Identity, JwtVerifier};
use slsplay_api::blobs::BlobStore;
use slsplay_api::body::plausible_id;
use slsplay_api::rate_limit::{self, RateLimiter};
use types::{Event, Guest, Invitation, LinkInvitation, Node, parse_global_id, unavailable};

pub type ApiSchema = Schema<Query, Mutation, EmptySubscription>;

/// What resolvers share: the read models, media URLs and the command API.
pub struct Services {
    pub queries: Queries,
    pub blobs: Arc<dyn BlobStore>,
    pub commands: CommandApi,
}

/// The secret of a personal link, as the request's `Invitation-Token` header carried it: the web
/// app sends it there so that it sits in no query, URL or log.
pub struct LinkToken(pub String);

impl LinkToken {
    /// The argument when one was given, else the header's.
    fn or_header<'a>(argument: Option<&'a str>, ctx: &'a Context<'_>) -> Option<&'a str> {
        argument.or_else(|| ctx.data_opt::<LinkToken>().map(|t| t.0.as_str()))
    }
}

/// Who asks, per request: their verified identity and the token to forward to the command API.
pub struct Viewer {
    pub identity: Option<Identity>,
    pub bearer: Option<String>,
}

impl Viewer {
    pub fn require(&self) -> Result<&Identity> {
        self.identity
            .as_ref()
            .ok_or_else(|| types::unauthenticated("sign in first"))
    }
}

pub struct Query;

#[Object]
impl Query {
    /// The signed-in user.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Me> {
        Ok(Me(ctx.data::<Viewer>()?.require()?.clone()))
    }

    /// An event the viewer organizes or is invited to; null otherwise.
    async fn event(&self, ctx: &Context<'_>, event_id: String) -> Result<Option<Event>> {
        visible_event(ctx, event_id).await
    }

    /// Any object by its global id.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let Some((kind, key)) = parse_global_id(&id) else {
            return Ok(None);
        };
        match kind.as_str() {
            "Event" => Ok(visible_event(ctx, key).await?.map(Node::Event)),
            "Guest" => {
                let Some((event_id, invitation_id)) = key.split_once('/').filter(|(_, i)| plausible_id(i))
                else {
                    return Ok(None);
                };
                let Some(event) = visible_event(ctx, event_id.to_owned()).await? else {
                    return Ok(None);
                };
                let viewer = ctx.data::<Viewer>()?;
                if viewer.identity.as_ref().map(|i| &i.subject) != Some(&event.page.organizer) {
                    return Ok(None);
                }
                let row: Option<GuestListEntry> = ctx
                    .data::<Services>()?
                    .queries
                    .get(&Key::with_sort(event_id, invitation_id))
                    .await
                    .map_err(unavailable)?;
                Ok(row.map(|r| Node::Guest(Guest::from(r))))
            }
            _ => Ok(None),
        }
    }

    /// The invitation a personal link opens, without signing in; null when the token does not
    /// open an invitation to this event. The token comes in the `Invitation-Token` header (the
    /// web app's way) or as `token`. Without a token, the invitation to the signed-in viewer's
    /// verified email: signing in with the invited address opens it as the link does.
    async fn invitation(
        &self,
        ctx: &Context<'_>,
        event_id: String,
        token: Option<String>,
    ) -> Result<Option<LinkInvitation>> {
        let credential = match LinkToken::or_header(token.as_deref(), ctx) {
            Some(token) => InvitationCredential::Token(token.to_owned()),
            None => match ctx
                .data::<Viewer>()?
                .identity
                .as_ref()
                .and_then(|i| i.verified_email.clone())
            {
                Some(email) => InvitationCredential::VerifiedEmail { email, name: None },
                None => return Ok(None),
            },
        };
        if !plausible_id(&event_id) {
            return Ok(None);
        }
        let services = ctx.data::<Services>()?;
        let row = guest_by_credential(&services.queries, &event_id, &credential)
            .await
            .map_err(unavailable)?;
        let page = ctx
            .data::<loaders::Events>()?
            .load_one(event_id)
            .await
            .map_err(|e| unavailable(&*e))?;
        Ok(match (row, page) {
            (Some(row), Some(page)) if page.open_to_guests() => Some(LinkInvitation { row, page }),
            _ => None,
        })
    }
}

async fn visible_event(ctx: &Context<'_>, event_id: String) -> Result<Option<Event>> {
    if !plausible_id(&event_id) {
        return Ok(None);
    }
    let page: Option<EventPage> = ctx
        .data::<loaders::Events>()?
        .load_one(event_id)
        .await
        .map_err(|e| unavailable(&*e))?;
    let Some(event) = page.map(Event::new) else {
        return Ok(None);
    };
    Ok(event.visible_to(ctx).await?.then_some(event))
}

/// The signed-in user and what is theirs.
pub struct Me(Identity);

#[Object]
impl Me {
    async fn subject(&self) -> &str {
        &self.0.subject
    }

    /// Null when the identity provider did not verify one.
    async fn email(&self) -> Option<&str> {
        self.0.verified_email.as_deref()
    }

    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// The events this user organizes, by creation.
    #[graphql(complexity = "first.unwrap_or(25).max(0) as usize * child_complexity")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(minimum = 1, maximum = 100))] first: Option<i32>,
        after: Option<String>,
    ) -> Result<connection::Connection<Event>> {
        let services = ctx.data::<Services>()?;
        let loader = ctx.data::<loaders::Events>()?;
        let subject = self.0.subject.clone();
        connection::page(first, after, |after, limit| async move {
            let page = services
                .queries
                .page::<OrganizerEvent>(&subject, after.as_deref(), limit)
                .await?;
            let ids: Vec<String> = page.items.iter().map(|e| e.event_id.clone()).collect();
            let mut pages = loader
                .load_many(ids.clone())
                .await
                .map_err(|e| slsplay_projections::store::ReadStoreError::Storage(e.to_string().into()))?;
            let events = ids
                .iter()
                .filter_map(|id| pages.remove(id))
                .map(Event::new)
                .collect();
            Ok((events, page.last_sort_key))
        })
        .await
    }

    /// The invitations to this user's verified email.
    #[graphql(complexity = "first.unwrap_or(25).max(0) as usize * child_complexity")]
    async fn invitations(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(minimum = 1, maximum = 100))] first: Option<i32>,
        after: Option<String>,
    ) -> Result<connection::Connection<Invitation>> {
        let services = ctx.data::<Services>()?;
        let email = self.0.verified_email.clone();
        connection::page(first, after, |after, limit| async move {
            let Some(email) = email else {
                return Ok((Vec::new(), None));
            };
            let page = services
                .queries
                .page::<InvitationByEmail>(&email, after.as_deref(), limit)
                .await?;
            let items = page
                .items
                .into_iter()
                .filter(InvitationByEmail::listed)
                .map(|row| Invitation { row })
                .collect();
            Ok((items, page.last_sort_key))
        })
        .await
    }
}

/// How the schema is built: development (local) or production (Lambda).
#[derive(Debug, Clone, Copy)]
pub struct GraphqlMode {
    /// Introspection (and GraphiQL): local development only.
    pub introspection: bool,
}

pub fn schema(services: Services, mode: GraphqlMode) -> ApiSchema {
    let builder = Schema::build(Query, Mutation, EmptySubscription)
        .data(services)
        .limit_depth(if mode.introspection {
            limits::MAX_DEPTH_WITH_INTROSPECTION
        } else {
            limits::MAX_DEPTH
        })
        .limit_complexity(limits::MAX_COMPLEXITY)
        .limit_recursive_depth(limits::MAX_RECURSIVE_DEPTH)
        .limit_directives(limits::MAX_DIRECTIVES)
        .extension(limits::AliasLimit(limits::MAX_ALIASES))
        .disable_suggestions();
    let builder = if mode.introspection {
        builder
    } else {
        builder.disable_introspection()
    };
    builder.finish()
}

/// The schema's SDL as checked in (it does not depend on the services).
pub fn sdl() -> String {
    Schema::build(Query, Mutation, EmptySubscription).finish().sdl()
}

#[derive(Clone)]
pub struct GraphqlState {
    pub schema: ApiSchema,
    pub verifier: Arc<JwtVerifier>,
    pub queries: Queries,
    pub mode: GraphqlMode,
}

/// `/graphql`: POST for operations; GET serves GraphiQL in development.
pub fn router<S: Clone + Send + Sync + 'static>(state: GraphqlState, limiter: RateLimiter) -> Router<S> {
    Router::new()
        .route("/", get(graphiql).post(execute))
        .layer(DefaultBodyLimit::max(limits::MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(limiter, rate_limit::limit))
        .layer(middleware::from_fn_with_state(
            state.verifier.clone(),
            auth::authenticate,
        ))
        .with_state(state)
}

fn graphql_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    });
    (status, Json(body)).into_response()
}

/// A refused token: the same challenge as the REST API's (RFC 6750).
fn unauthenticated(problem: &slsplay_api::problem::Problem) -> Response {
    let mut response = graphql_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", &problem.detail);
    if let Ok(challenge) = header::HeaderValue::from_str(&problem.bearer_challenge()) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
}

/// The operation's body, at most [`limits::MAX_BODY_BYTES`]: a declared length past it is
/// refused unread, and a chunked body is cut off once it grows past it (axum's body limit,
/// which async-graphql-axum's extractor does not apply: it streams the body whole).
async fn operation_body(request: Request) -> Result<(Option<String>, Bytes), Response> {
    let too_large = || {
        graphql_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            &format!("the request body is larger than {} bytes", limits::MAX_BODY_BYTES),
        )
    };
    let headers = request.headers();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits::MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match Bytes::from_request(request, &()).await {
        Ok(body) => Ok((content_type, body)),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(too_large()),
        Err(e) => Err(graphql_error(e.status(), "BAD_REQUEST", &e.body_text())),
    }
}

async fn execute(
    State(state): State<GraphqlState>,
    Extension(outcome): Extension<Authenticated>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let (content_type, body) = match operation_body(request).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    // Uploads go to the blob store with a signed policy, never through GraphQL.
    let no_uploads = MultipartOptions::default().max_num_files(0);
    let request = match async_graphql::http::receive_body(content_type, body.as_ref(), no_uploads).await {
        Ok(request) => request,
        Err(e) => return graphql_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", &e.to_string()),
    };
    let identity = match outcome.0 {
        None => None,
        Some(Ok(identity)) => Some(identity),
        Some(Err(problem)) if problem.status == 401 => return unauthenticated(&problem),
        Some(Err(_)) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot verify tokens; retry shortly",
            )
                .into_response();
        }
    };
    // Forwarded to the command API only once verified.
    let bearer = slsplay_api::auth::bearer(&headers)
        .ok()
        .flatten()
        .filter(|_| identity.is_some())
        .map(str::to_owned);
    let mut request = request.data(Viewer { identity, bearer });
    if let Some(token) = headers
        .get(slsplay_api::invitations::TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        request = request.data(LinkToken(token.to_owned()));
    }
    let request = loaders::per_request(
        request,
        EventLoader::new(state.queries.clone()),
        InvitationLoader::new(state.queries.clone()),
    );
    GraphQLResponse::from(state.schema.execute(request).await).into_response()
}

async fn graphiql(State(state): State<GraphqlState>) -> Response {
    if !state.mode.introspection {
        return (StatusCode::METHOD_NOT_ALLOWED, "POST GraphQL operations here").into_response();
    }
    Html(GRAPHIQL).into_response()
}

/// GraphiQL from its CDN, pointed at this endpoint; paste a token from `slsplay dev-token`
/// into the headers tab as `{"Authorization": "Bearer ..."}`.
const GRAPHIQL: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>slsplay GraphQL (development)</title>
<link rel="stylesheet" href="https://unpkg.com/graphiql@3.8.3/graphiql.min.css">
<style>body{margin:0;height:100vh}#graphiql{height:100vh}</style></head>
<body><div id="graphiql">Loading GraphiQL…</div>
<script crossorigin src="https://unpkg.com/react@18.3.1/umd/react.production.min.js"></script>
<script crossorigin src="https://unpkg.com/react-dom@18.3.1/umd/react-dom.production.min.js"></script>
<script crossorigin src="https://unpkg.com/graphiql@3.8.3/graphiql.min.js"></script>
<script>
const fetcher = GraphiQL.createFetcher({ url: location.pathname });
ReactDOM.createRoot(document.getElementById('graphiql')).render(
  React.createElement(GraphiQL, { fetcher, defaultHeaders: '{"Authorization": "Bearer PASTE slsplay dev-token OUTPUT"}' }));
</script></body></html>"#;

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn the_checked_in_graphql_schema_is_the_one_the_code_serves() {
        let sdl = super::sdl();
        assert!(sdl.contains("interface Node"), "{sdl}");
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
        slsplay_tests::fixtures::matches_checked_in(&path, &sdl);
    }
}
