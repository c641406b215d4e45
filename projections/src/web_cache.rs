//! The web cache builder: for each published event a small static page at `/e/{share_id}`, for
//! the link previews of chat apps and mail clients, which read HTML and run no app. It carries
//! the Open Graph title, start time and cover photo, nothing private (no meeting link, no
//! guests, no description), and the app's bootstrap, which then shows the invitation.
//!
//! Each page is rendered whole from the event's state after the fact, so applying a fact twice
//! writes the same page. It is written when the event is published or changes, and removed
//! when it is cancelled or deleted. Locally the pages sit in the blob store; on AWS in the web
//! bucket behind CloudFront.

use std::future::Future;
use std::sync::Arc;

use cqrs_es::EventEnvelope;
use cqrs_es::persist::{EventUpcaster, PersistedEventRepository};
use slsplay_aggregates::validation::MediaKind;
use slsplay_aggregates::virtual_event::{InvitationTokens, Lifecycle, VirtualEvent, VirtualEventFact as F};

use crate::builder::Projector;
use crate::email::compose::{html_escape, local_time};
use crate::state::EventStates;
use crate::store::{ReadStoreError, ReadTx};

pub const NAME: &str = "web_cache";

/// The stable, never-cached script that boots the current build of the app, and its
/// stylesheet (`.ci/build-web` writes both), so a page rendered before a new build still boots
/// the new one.
pub const BOOTSTRAP: &str = "/boot.js";
pub const STYLESHEET: &str = "/style.css";

/// Where the pages are kept: the blob store locally, the web bucket on AWS.
pub trait WebPages: Send + Sync {
    /// Writes or replaces the page at `path` (like `e/{share_id}`); durable when it returns.
    fn put(&self, path: &str, html: &str) -> impl Future<Output = Result<(), WebPagesError>> + Send;

    /// Removes the page at `path`; removing a page that is not there succeeds.
    fn remove(&self, path: &str) -> impl Future<Output = Result<(), WebPagesError>> + Send;
}

/// The store of pages failed; the adapter's error is the source. The builder retries the fact.
#[derive(Debug, thiserror::Error)]
#[error("the web page store failed")]
pub struct WebPagesError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

#[derive(Debug, Clone)]
pub struct PageSettings {
    /// Where the web app answers (no trailing slash).
    pub public_url: String,
    /// Where media is fetched from, as the GraphQL API builds its URLs (no trailing slash).
    pub media_url: String,
}

/// The path of an event's page, relative to the web root.
pub fn page_path(share_id: &str) -> String {
    format!("e/{share_id}")
}

pub struct WebCache<R, P> {
    states: EventStates<R>,
    tokens: InvitationTokens,
    settings: PageSettings,
    pages: Arc<P>,
}

impl<R: PersistedEventRepository, P: WebPages> WebCache<R, P> {
    pub fn new(
        events: R,
        upcasters: Vec<Box<dyn EventUpcaster>>,
        tokens: InvitationTokens,
        settings: PageSettings,
        pages: Arc<P>,
    ) -> Self {
        Self {
            states: EventStates::new(events, upcasters),
            tokens,
            settings,
            pages,
        }
    }
}

impl<R: PersistedEventRepository, P: WebPages> Projector for WebCache<R, P> {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn apply<T: ReadTx + Send>(
        &self,
        _tx: &mut T,
        fact: &EventEnvelope<VirtualEvent>,
    ) -> Result<(), ReadStoreError> {
        let changes_the_page = matches!(
            fact.payload,
            F::Published { .. }
                | F::DetailsUpdated(_)
                | F::Rescheduled(_)
                | F::MediaAttached(_)
                | F::Cancelled { .. }
                | F::DraftDeleted { .. }
                | F::Archived { .. }
        );
        if !changes_the_page {
            return Ok(());
        }
        let (event, _) = self.states.after(fact).await?;
        let share_id = self.tokens.share_id(&event.id);
        let path = page_path(&share_id);
        let written = match event.lifecycle {
            Lifecycle::Published => {
                self.pages
                    .put(&path, &render(&event, &share_id, &self.settings))
                    .await
            }
            _ => self.pages.remove(&path).await,
        };
        written.map_err(|e| ReadStoreError::Storage(Box::new(e)))
    }

    /// A page is durable once written, so nothing waits for the commit but the checkpoints:
    /// one commit per delivered batch. A batch that fails after some pages were written
    /// leaves pages of facts the event store already holds; its retry writes them again.
    const BATCHED: bool = true;
}

/// The page of a published event.
pub fn render(event: &VirtualEvent, share_id: &str, settings: &PageSettings) -> String {
    let title = html_escape(&event.details.title);
    let when = html_escape(&local_time(event.details.starts_at, &event.details.time_zone));
    let url = html_escape(&format!("{}/{}", settings.public_url, page_path(share_id)));
    let cover = event
        .media
        .get(&MediaKind::Photo)
        .map(|photo| html_escape(&format!("{}/{}", settings.media_url, photo.object_key)));
    // Drawn as the app draws the invitation's top, so the page shows the event before the app
    // runs; the app hides its own elements while this one is there, and removes it.
    let cover_img = cover
        .as_ref()
        .map(|src| format!("<img class=\"cover\" src=\"{src}\" alt=\"\">"))
        .unwrap_or_default();
    let image = match &cover {
        Some(src) => format!(
            "<meta property=\"og:image\" content=\"{src}\">\n<meta name=\"twitter:card\" content=\"summary_large_image\">\n"
        ),
        None => "<meta name=\"twitter:card\" content=\"summary\">\n".to_owned(),
    };
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<link rel="icon" href="data:,">
<title>{title} · slsplay</title>
<meta name="description" content="{when} · an online event">
<meta property="og:type" content="website">
<meta property="og:site_name" content="slsplay">
<meta property="og:title" content="{title}">
<meta property="og:description" content="{when} · an online event">
<meta property="og:url" content="{url}">
{image}<link rel="stylesheet" href="{STYLESHEET}">
<script type="module" src="{BOOTSTRAP}"></script>
</head>
<body>
<div id="prerendered">
<header class="bar"><span class="brand">slsplay</span></header>
<main><article class="invitation">{cover_img}<p class="eyebrow">You are invited</p><h1>{title}</h1><p class="when">{when}</p>
<noscript><p>Open this invitation in a browser with JavaScript to answer it.</p></noscript></article></main>
</div>
</body>
</html>
"#
    )
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use slsplay_aggregates::virtual_event::{Details, MediaAttached};

    use super::*;

    fn settings() -> PageSettings {
        PageSettings {
            public_url: "https://vip.example".into(),
            media_url: "https://media.example".into(),
        }
    }

    fn event() -> VirtualEvent {
        VirtualEvent {
            id: "ev-1".into(),
            lifecycle: Lifecycle::Published,
            details: Details {
                title: "Wine <tasting> & \"talk\"".into(),
                description: "the secret cellar".into(),
                starts_at: Utc.with_ymd_and_hms(2030, 5, 15, 9, 0, 0).unwrap(),
                time_zone: "Europe/Paris".into(),
                meeting_url: "https://meet.example/secret".into(),
                ..Details::default()
            },
            ..VirtualEvent::default()
        }
    }

    #[test]
    fn a_page_shows_the_title_start_and_cover_escaped_and_nothing_private() {
        let mut event = event();
        event.media.insert(
            MediaKind::Photo,
            MediaAttached {
                kind: MediaKind::Photo,
                object_key: "events/ev-1/photo/p1".into(),
                content_type: "image/png".into(),
                size_bytes: 10,
            },
        );
        let page = render(&event, "S1", &settings());
        assert!(
            page.contains(
                "<meta property=\"og:title\" content=\"Wine &lt;tasting&gt; &amp; &quot;talk&quot;\">"
            ),
            "{page}"
        );
        assert!(
            page.contains("content=\"Wednesday 15 May 2030, 11:00 (Europe/Paris) · an online event\""),
            "{page}"
        );
        assert!(
            page.contains(
                "<meta property=\"og:image\" content=\"https://media.example/events/ev-1/photo/p1\">"
            )
        );
        assert!(page.contains("<meta property=\"og:url\" content=\"https://vip.example/e/S1\">"));
        assert!(page.contains("<script type=\"module\" src=\"/boot.js\"></script>"));
        assert!(page.contains("<link rel=\"stylesheet\" href=\"/style.css\">"));
        assert!(
            page.contains("<h1>Wine &lt;tasting&gt; &amp; &quot;talk&quot;</h1>"),
            "drawn before the app runs"
        );
        assert!(
            page.contains(
                "<img class=\"cover\" src=\"https://media.example/events/ev-1/photo/p1\" alt=\"\">"
            )
        );
        assert!(page.contains("noindex"));
        for private in ["secret", "ev-1\"", "meet.example"] {
            assert!(!page.contains(private), "{private} in {page}");
        }
    }

    #[test]
    fn a_page_without_a_cover_asks_for_a_small_card() {
        let page = render(&event(), "S1", &settings());
        assert!(!page.contains("og:image"));
        assert!(page.contains("content=\"summary\""));
    }
}
