//! Cover photo and video: ask for a presigned upload, upload straight to the blob store, then
//! attach what was uploaded. The API reads the object's real size and type at attach time.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use slsplay_aggregates::validation::{self as v, MediaKind};
use slsplay_aggregates::virtual_event::{AttachMedia, VirtualEventCommand};
use utoipa::ToSchema;

use super::blobs::{UploadForm, valid_key};
use super::body::{EventId, Fields, JsonObject};
use super::problem::{ApiResult, Problem};
use super::views::Accepted;
use super::{ApiState, if_match};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    /// A photo is JPEG, PNG or WebP up to 10 MiB; a video MP4 or WebM up to 200 MiB.
    pub kind: Kind,
    #[schema(inline)]
    pub content_type: ContentType,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Photo,
    Video,
}

#[derive(Debug, Deserialize, ToSchema)]
pub enum ContentType {
    #[serde(rename = "image/jpeg")]
    Jpeg,
    #[serde(rename = "image/png")]
    Png,
    #[serde(rename = "image/webp")]
    Webp,
    #[serde(rename = "video/mp4")]
    Mp4,
    #[serde(rename = "video/webm")]
    Webm,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachRequest {
    pub kind: Kind,
    /// The `object_key` of the upload form.
    pub object_key: String,
}

fn kind(f: &mut Fields) -> Option<MediaKind> {
    let raw = f.string("kind")?;
    let kind = match raw.as_str() {
        "photo" => Some(MediaKind::Photo),
        "video" => Some(MediaKind::Video),
        _ => None,
    };
    if kind.is_none() {
        f.errors.add("kind", "must be photo or video");
    }
    kind
}

fn kind_name(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Photo => "photo",
        MediaKind::Video => "video",
    }
}

fn prefix(event_id: &str, kind: MediaKind) -> String {
    format!("events/{event_id}/{}/", kind_name(kind))
}

#[utoipa::path(post, path = "/api/events/{event_id}/media/uploads", tag = "media", operation_id = "presignUpload",
    request_body = UploadRequest,
    params(("event_id" = String, Path)),
    responses((status = 201, description = "POST the file to `url` with `fields`, then attach it", body = UploadForm),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn presign(
    State(state): State<ApiState>,
    crate::auth::Caller(caller): crate::auth::Caller,
    EventId(event_id): EventId,
    body: JsonObject,
) -> ApiResult<Response> {
    let mut f = Fields::new(body);
    let kind = kind(&mut f);
    let content_type = f.string("content_type");
    // The normalised type is what the upload policy binds and the blob store keeps.
    let content_type = match (kind, content_type) {
        (Some(kind), Some(raw)) => f.errors.check("content_type", v::content_type(kind, &raw)),
        _ => None,
    };
    let (kind, content_type) = f.finish(kind.zip(content_type))?;
    state.ensure_organizer(&caller, &event_id).await?;
    let key = format!("{}{}", prefix(&event_id, kind), uuid::Uuid::now_v7());
    let form = state
        .blobs
        .presign_upload(&key, &content_type, kind.max_bytes(), state.clock.now())
        .await
        .map_err(|e| Problem::unavailable("presigning an upload failed", &e))?;
    Ok((StatusCode::CREATED, Json(form)).into_response())
}

#[utoipa::path(post, path = "/api/events/{event_id}/media", tag = "media", operation_id = "attachMedia",
    request_body = AttachRequest,
    params(("event_id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Accepted),
              (status = 422, description = "Nothing uploaded under the key, or not an allowed type or size", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn attach(
    State(state): State<ApiState>,
    crate::auth::Caller(caller): crate::auth::Caller,
    EventId(event_id): EventId,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Json<Accepted>> {
    let expected = if_match(&headers)?;
    let mut f = Fields::new(body);
    let kind = kind(&mut f);
    let object_key = f.string("object_key");
    if let (Some(kind), Some(key)) = (kind, &object_key)
        && !(key.starts_with(&prefix(&event_id, kind)) && valid_key(key))
    {
        f.errors.add(
            "object_key",
            "is not an upload of this event's media of this kind",
        );
    }
    let (kind, object_key) = f.finish(kind.zip(object_key))?;
    state.ensure_organizer(&caller, &event_id).await?;
    let blob = state
        .blobs
        .stat(&object_key)
        .await
        .map_err(|e| Problem::unavailable("reading the blob store failed", &e))?
        .ok_or_else(|| {
            Problem::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-request",
                "object_key",
                "nothing was uploaded under this key (yet)",
            )
        })?;
    let command = VirtualEventCommand::AttachMedia(AttachMedia {
        organizer: caller.subject.clone(),
        kind,
        object_key,
        content_type: blob.content_type,
        size_bytes: blob.size_bytes,
    });
    Ok(Json(state.run(&caller, &event_id, command, expected).await?))
}
