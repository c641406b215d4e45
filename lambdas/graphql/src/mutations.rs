//! Mutations: each one is a request to the REST command API with the caller's token, so
//! validation and authorization are decided in one place. Refusals come back as user errors
//! in the payload; the event is read back from the read models.

use async_graphql::{Context, Enum, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use reqwest::Method;
use serde_json::{Map, Value, json};
use slsplay_api::problem::ErrorChain;

use super::commands::CommandAnswer;
use super::types::Event;
use super::{Services, Viewer};

/// A refusal the user can act on: which field, what is wrong, and a stable code.
#[derive(Debug, Clone, SimpleObject)]
pub struct UserError {
    /// The input field, when one is to blame (`input.title`, `emails[2]`).
    pub field: Option<String>,
    pub message: String,
    /// The REST problem type's last part, like `invalid-request` or `stale-version`.
    pub code: String,
}

/// What a mutation did to an event.
pub struct EventPayload {
    event_id: Option<String>,
    version: Option<i64>,
    user_errors: Vec<UserError>,
    /// The command was accepted on an invitation link's token.
    via_invitation_link: bool,
}

impl EventPayload {
    fn refused(user_errors: Vec<UserError>) -> Self {
        Self {
            event_id: None,
            version: None,
            user_errors,
            via_invitation_link: false,
        }
    }
}

#[Object]
impl EventPayload {
    async fn event_id(&self) -> Option<&str> {
        self.event_id.as_deref()
    }

    /// The event's version after the change.
    async fn version(&self) -> Option<i64> {
        self.version
    }

    /// The event as the read models show it now (null when refused, or not yet visible).
    async fn event(&self, ctx: &Context<'_>) -> Result<Option<Event>> {
        let Some(id) = &self.event_id else {
            return Ok(None);
        };
        let page = ctx
            .data::<super::loaders::Events>()?
            .load_one(id.clone())
            .await
            .map_err(|e| super::types::unavailable(&*e))?;
        let Some(event) = page.map(Event::new) else {
            return Ok(None);
        };
        // A link holder who answered sees the event as the link shows it; anyone else only
        // what they may see.
        let link_holder = self.via_invitation_link && event.page.open_to_guests();
        Ok((link_holder || event.visible_to(ctx).await?).then_some(event))
    }

    async fn user_errors(&self) -> &[UserError] {
        &self.user_errors
    }
}

#[derive(Debug, Clone, InputObject)]
pub struct PriceInput {
    /// In minor units (cents).
    pub amount_minor: u64,
    /// ISO 4217, like EUR.
    pub currency: String,
}

#[derive(Debug, Clone, InputObject)]
pub struct CreateEventInput {
    pub title: String,
    pub description: Option<String>,
    /// RFC 3339 with offset, in the future.
    pub starts_at: String,
    /// IANA time zone, like Europe/Paris.
    pub time_zone: String,
    pub duration_minutes: u32,
    pub capacity: Option<u32>,
    pub ticket_price: Option<PriceInput>,
    /// https link; only confirmed attendees see it.
    pub meeting_url: String,
}

/// Absent fields stay; `capacity: null` removes the limit, `ticketPrice: null` makes a draft free.
#[derive(Debug, Clone, InputObject)]
pub struct UpdateEventInput {
    pub title: Option<String>,
    pub description: Option<String>,
    pub starts_at: Option<String>,
    pub time_zone: Option<String>,
    pub duration_minutes: Option<u32>,
    pub capacity: MaybeUndefined<u32>,
    pub ticket_price: MaybeUndefined<PriceInput>,
    pub meeting_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum MediaKind {
    /// JPEG, PNG or WebP up to 10 MiB.
    Photo,
    /// MP4 or WebM up to 200 MiB.
    Video,
}

impl MediaKind {
    fn rest_name(self) -> &'static str {
        match self {
            Self::Photo => "photo",
            Self::Video => "video",
        }
    }
}

/// One form field of a presigned upload, sent before the file.
#[derive(Debug, Clone, SimpleObject)]
pub struct FormField {
    pub name: String,
    pub value: String,
}

/// Where the browser uploads: POST `url` as multipart/form-data with `fields` in order, then
/// the file as the last part named `file`; then `attachMedia` with `objectKey`.
#[derive(Debug, Clone, SimpleObject)]
pub struct UploadForm {
    pub url: String,
    pub fields: Vec<FormField>,
    pub object_key: String,
    /// RFC 3339; the form is refused after it.
    pub expires_at: String,
    pub max_bytes: u64,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct CheckoutPayload {
    /// The payment provider's page for the held seat; null when refused. The guest comes back
    /// to the invitation page with `?receipt=`, for `payTicket`.
    pub checkout_url: Option<String>,
    pub user_errors: Vec<UserError>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct UploadPayload {
    /// Null when refused.
    pub upload: Option<UploadForm>,
    pub user_errors: Vec<UserError>,
}

impl UploadForm {
    fn from_rest(body: &Value) -> Option<Self> {
        let form: slsplay_api::blobs::UploadForm = serde_json::from_value(body.clone()).ok()?;
        Some(Self {
            url: form.url,
            fields: form
                .fields
                .into_iter()
                .map(|(name, value)| FormField { name, value })
                .collect(),
            object_key: form.object_key,
            expires_at: form.expires_at.to_rfc3339(),
            max_bytes: form.max_bytes,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum RsvpAnswer {
    Accept,
    Decline,
}

fn price(p: &PriceInput) -> Value {
    json!({ "amount_minor": p.amount_minor, "currency": p.currency })
}

/// GraphQL's camelCase input name for a REST field path (`ticket_price.currency`).
fn graphql_field(rest: &str, prefix: &str) -> String {
    let camel: String = rest
        .split('_')
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part.to_owned()
            } else {
                let mut c = part.chars();
                c.next()
                    .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                    .unwrap_or_default()
            }
        })
        .collect();
    if prefix.is_empty() {
        camel
    } else {
        format!("{prefix}.{camel}")
    }
}

struct Call<'a> {
    method: Method,
    path: String,
    body: Option<Value>,
    if_match: Option<i32>,
    invitation_token: Option<&'a str>,
    /// Forwarded as `Idempotency-Key`: a retried mutation gets the first answer.
    idempotency_key: Option<&'a str>,
    /// Where the mutation's input fields sit, for user errors (`input` or none).
    input_prefix: &'static str,
}

impl Call<'_> {
    /// A request with no body, no precondition and no extra headers.
    fn to(method: Method, path: String) -> Self {
        Self {
            method,
            path,
            body: None,
            if_match: None,
            invitation_token: None,
            idempotency_key: None,
            input_prefix: "",
        }
    }
}

async fn run(ctx: &Context<'_>, call: Call<'_>) -> Result<EventPayload> {
    let via_invitation_link = call.invitation_token.is_some();
    Ok(match ask(ctx, call).await? {
        Ok(body) => EventPayload {
            event_id: body["event_id"].as_str().map(str::to_owned),
            version: body["version"].as_i64(),
            user_errors: Vec::new(),
            via_invitation_link,
        },
        Err(user_errors) => EventPayload::refused(user_errors),
    })
}

/// Sends one call: the API's answer, or what it refused as user errors.
async fn ask(ctx: &Context<'_>, call: Call<'_>) -> Result<Result<Value, Vec<UserError>>> {
    let viewer = ctx.data::<Viewer>()?;
    let services = ctx.data::<Services>()?;
    // The payload, and the next mutation of the operation, must read what this one changed.
    super::loaders::forget(
        ctx.data::<super::loaders::Events>()?,
        ctx.data::<super::loaders::Invitations>()?,
    );
    let mut headers = Vec::new();
    if let Some(version) = call.if_match {
        // GraphQL clients pass the version they saw; the REST API reads it as an ETag.
        headers.push(("if-match", format!("\"{version}\"")));
    }
    if let Some(token) = call.invitation_token {
        headers.push((slsplay_api::invitations::TOKEN_HEADER, token.to_owned()));
    }
    if let Some(key) = call.idempotency_key {
        headers.push((slsplay_api::idempotency::HEADER, key.to_owned()));
    }
    // What cannot travel as a header is the caller's mistake, said as such.
    for (name, value) in &headers {
        if reqwest::header::HeaderValue::from_str(value).is_err() {
            let field = if *name == slsplay_api::idempotency::HEADER {
                "idempotencyKey"
            } else {
                "invitationToken"
            };
            return Ok(Err(vec![UserError {
                field: Some(field.to_owned()),
                message: "must be visible ASCII characters".to_owned(),
                code: "invalid-request".to_owned(),
            }]));
        }
    }
    let answer = services
        .commands
        .send(
            call.method,
            &call.path,
            call.body.as_ref(),
            viewer.bearer.as_deref(),
            &headers,
        )
        .await
        .map_err(|e| super::types::unavailable(ErrorChain(&e)))?;
    match answer {
        CommandAnswer::Done(body) => Ok(Ok(body)),
        CommandAnswer::Refused { status: 401, problem } => Err(super::types::unauthenticated(
            problem["detail"].as_str().unwrap_or("sign in first"),
        )),
        CommandAnswer::Refused { problem, .. } => {
            let code = problem["type"]
                .as_str()
                .and_then(|t| t.rsplit(':').next())
                .unwrap_or("refused")
                .to_owned();
            let fields: Vec<UserError> = problem["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| UserError {
                    field: e["field"].as_str().map(|f| graphql_field(f, call.input_prefix)),
                    message: e["message"].as_str().unwrap_or_default().to_owned(),
                    code: code.clone(),
                })
                .collect();
            Ok(Err(if fields.is_empty() {
                vec![UserError {
                    field: None,
                    message: problem["detail"].as_str().unwrap_or("refused").to_owned(),
                    code,
                }]
            } else {
                fields
            }))
        }
    }
}

fn event_path(event_id: &str, rest: &str) -> String {
    format!("/events/{}{rest}", urlencode(event_id))
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// `idempotencyKey`: a retry with the same key gets the first answer and creates nothing.
    async fn create_event(
        &self,
        ctx: &Context<'_>,
        input: CreateEventInput,
        idempotency_key: Option<String>,
    ) -> Result<EventPayload> {
        let mut body = Map::new();
        body.insert("title".into(), json!(input.title));
        if let Some(d) = input.description {
            body.insert("description".into(), json!(d));
        }
        body.insert("starts_at".into(), json!(input.starts_at));
        body.insert("time_zone".into(), json!(input.time_zone));
        body.insert("duration_minutes".into(), json!(input.duration_minutes));
        if let Some(c) = input.capacity {
            body.insert("capacity".into(), json!(c));
        }
        if let Some(p) = &input.ticket_price {
            body.insert("ticket_price".into(), price(p));
        }
        body.insert("meeting_url".into(), json!(input.meeting_url));
        let call = Call {
            body: Some(Value::Object(body)),
            idempotency_key: idempotency_key.as_deref(),
            input_prefix: "input",
            ..Call::to(Method::POST, "/events".into())
        };
        run(ctx, call).await
    }

    async fn update_event(
        &self,
        ctx: &Context<'_>,
        event_id: String,
        input: UpdateEventInput,
        #[graphql(validator(minimum = 1))] expected_version: Option<i32>,
    ) -> Result<EventPayload> {
        let mut body = Map::new();
        let text = [
            ("title", &input.title),
            ("description", &input.description),
            ("starts_at", &input.starts_at),
            ("time_zone", &input.time_zone),
            ("meeting_url", &input.meeting_url),
        ];
        for (name, value) in text {
            if let Some(v) = value {
                body.insert(name.into(), json!(v));
            }
        }
        if let Some(m) = input.duration_minutes {
            body.insert("duration_minutes".into(), json!(m));
        }
        match &input.capacity {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => {
                body.insert("capacity".into(), Value::Null);
            }
            MaybeUndefined::Value(c) => {
                body.insert("capacity".into(), json!(c));
            }
        }
        match &input.ticket_price {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => {
                body.insert("ticket_price".into(), Value::Null);
            }
            MaybeUndefined::Value(p) => {
                body.insert("ticket_price".into(), price(p));
            }
        }
        let call = Call {
            body: Some(Value::Object(body)),
            if_match: expected_version,
            input_prefix: "input",
            ..Call::to(Method::PATCH, event_path(&event_id, ""))
        };
        run(ctx, call).await
    }

    async fn publish_event(
        &self,
        ctx: &Context<'_>,
        event_id: String,
        #[graphql(validator(minimum = 1))] expected_version: Option<i32>,
    ) -> Result<EventPayload> {
        let call = Call {
            if_match: expected_version,
            ..Call::to(Method::POST, event_path(&event_id, "/publish"))
        };
        run(ctx, call).await
    }

    async fn cancel_event(
        &self,
        ctx: &Context<'_>,
        event_id: String,
        message: String,
    ) -> Result<EventPayload> {
        let call = Call {
            body: Some(json!({ "message": message })),
            ..Call::to(Method::POST, event_path(&event_id, "/cancel"))
        };
        run(ctx, call).await
    }

    async fn delete_draft(&self, ctx: &Context<'_>, event_id: String) -> Result<EventPayload> {
        let call = Call::to(Method::DELETE, event_path(&event_id, ""));
        run(ctx, call).await
    }

    async fn invite_guests(
        &self,
        ctx: &Context<'_>,
        event_id: String,
        emails: Vec<String>,
        idempotency_key: Option<String>,
    ) -> Result<EventPayload> {
        let call = Call {
            body: Some(json!({ "emails": emails })),
            idempotency_key: idempotency_key.as_deref(),
            ..Call::to(Method::POST, event_path(&event_id, "/invitations"))
        };
        run(ctx, call).await
    }

    async fn revoke_invitation(
        &self,
        ctx: &Context<'_>,
        event_id: String,
        invitation_id: String,
    ) -> Result<EventPayload> {
        let call = Call::to(
            Method::DELETE,
            event_path(&event_id, &format!("/invitations/{}", urlencode(&invitation_id))),
        );
        run(ctx, call).await
    }

    /// A presigned upload for the event's cover photo or video; the file goes straight to the
    /// blob store, never through GraphQL.
    async fn presign_upload(
        &self,
        ctx: &Context<'_>,
        event_id: String,
        kind: MediaKind,
        content_type: String,
    ) -> Result<UploadPayload> {
        let call = Call {
            body: Some(json!({ "kind": kind.rest_name(), "content_type": content_type })),
            ..Call::to(Method::POST, event_path(&event_id, "/media/uploads"))
        };
        Ok(match ask(ctx, call).await? {
            Ok(body) => UploadPayload {
                upload: Some(UploadForm::from_rest(&body).ok_or_else(|| {
                    super::types::unavailable("the command API answered an unreadable upload form")
                })?),
                user_errors: Vec::new(),
            },
            Err(user_errors) => UploadPayload {
                upload: None,
                user_errors,
            },
        })
    }

    /// Makes an uploaded file the event's cover photo or video (it replaces the one before).
    async fn attach_media(
        &self,
        ctx: &Context<'_>,
        event_id: String,
        kind: MediaKind,
        object_key: String,
        #[graphql(validator(minimum = 1))] expected_version: Option<i32>,
    ) -> Result<EventPayload> {
        let call = Call {
            body: Some(json!({ "kind": kind.rest_name(), "object_key": object_key })),
            if_match: expected_version,
            ..Call::to(Method::POST, event_path(&event_id, "/media"))
        };
        run(ctx, call).await
    }

    /// Answers an invitation as the signed-in user, or with the personal link's token: the
    /// `Invitation-Token` header (the web app's way) or `invitationToken`.
    async fn rsvp(
        &self,
        ctx: &Context<'_>,
        event_id: String,
        answer: RsvpAnswer,
        invitation_token: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<EventPayload> {
        let answer = match answer {
            RsvpAnswer::Accept => "accept",
            RsvpAnswer::Decline => "decline",
        };
        let call = Call {
            body: Some(json!({ "answer": answer })),
            invitation_token: crate::LinkToken::or_header(invitation_token.as_deref(), ctx),
            idempotency_key: idempotency_key.as_deref(),
            ..Call::to(Method::POST, event_path(&event_id, "/rsvp"))
        };
        run(ctx, call).await
    }

    /// Starts paying for the seat accepting a paid event held: the guest signed in, or with the
    /// personal link's token (the `Invitation-Token` header or `invitationToken`).
    async fn start_checkout(
        &self,
        ctx: &Context<'_>,
        event_id: String,
        invitation_token: Option<String>,
    ) -> Result<CheckoutPayload> {
        let call = Call {
            invitation_token: crate::LinkToken::or_header(invitation_token.as_deref(), ctx),
            ..Call::to(Method::POST, event_path(&event_id, "/checkout"))
        };
        Ok(match ask(ctx, call).await? {
            Ok(body) => CheckoutPayload {
                checkout_url: Some(
                    body["checkout_url"]
                        .as_str()
                        .ok_or_else(|| super::types::unavailable("the command API answered no checkout"))?
                        .to_owned(),
                ),
                user_errors: Vec::new(),
            },
            Err(user_errors) => CheckoutPayload {
                checkout_url: None,
                user_errors,
            },
        })
    }

    /// Confirms a payment with the receipt the checkout gave back: the held seat becomes the
    /// guest's. A receipt sent again pays once.
    async fn pay_ticket(
        &self,
        ctx: &Context<'_>,
        event_id: String,
        receipt: String,
        invitation_token: Option<String>,
    ) -> Result<EventPayload> {
        let call = Call {
            body: Some(json!({ "receipt": receipt })),
            invitation_token: crate::LinkToken::or_header(invitation_token.as_deref(), ctx),
            ..Call::to(Method::POST, event_path(&event_id, "/payment"))
        };
        run(ctx, call).await
    }
}
