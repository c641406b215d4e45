//! The organizer's pages: the list of their events, the event form, and one event's page with
//! its guests. Every page needs a signed-in viewer.

mod event_form;
mod manage;
mod media;

use leptos::prelude::*;

use crate::graphql::{self, Unavailable};
use crate::session::Auth;
use crate::sign_in::RequireSignIn;
use crate::time;

pub use event_form::{EditEventRoute, NewEventRoute};
pub use manage::ManageEventRoute;

type Listed = graphql::my_events::MyEventsViewerEventsNodes;
type Status = graphql::my_events::EventStatus;

/// `/my/events`: upcoming, drafts, past and cancelled, each with its counts.
#[component]
pub fn MyEventsRoute() -> impl IntoView {
    view! { <RequireSignIn><EventList/></RequireSignIn> }
}

#[component]
fn EventList() -> impl IntoView {
    let auth = Auth::get();
    let events = LocalResource::new(move || async move {
        let data = graphql::as_viewer::<graphql::MyEvents>(auth, graphql::my_events::Variables {}).await?;
        Ok::<_, Unavailable>(data.viewer.events.nodes)
    });
    view! {
        <div class="page-head">
            <h1>"Your events"</h1>
            <a class="button primary" href="/my/events/new">"New event"</a>
        </div>
        <Transition fallback=|| view! { <p class="status" role="status">"Loading your events…"</p> }>
            {move || events.get().map(|loaded| match loaded {
                Ok(events) if events.is_empty() => view! {
                    <section class="empty">
                        <h2>"No events yet"</h2>
                        <p>"Create an event, publish it and invite your guests by email. They answer from their personal link, no account needed."</p>
                        <a class="button primary" href="/my/events/new">"Create your first event"</a>
                    </section>
                }.into_any(),
                Ok(events) => view! { <Grouped events/> }.into_any(),
                Err(Unavailable(why)) => view! { <p class="error" role="alert">"Your events cannot be shown right now: " {why}</p> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn Grouped(events: Vec<Listed>) -> impl IntoView {
    let now = js_sys::Date::now();
    let (mut upcoming, mut drafts, mut past, mut cancelled) = (vec![], vec![], vec![], vec![]);
    for event in events {
        match event.status {
            Status::DRAFT => drafts.push(event),
            Status::CANCELLED => cancelled.push(event),
            _ if time::epoch_ms(&event.ends_at) <= now => past.push(event),
            _ => upcoming.push(event),
        }
    }
    let by_start = |a: &Listed, b: &Listed| a.starts_at.cmp(&b.starts_at);
    upcoming.sort_by(by_start);
    drafts.sort_by(by_start);
    past.sort_by(|a, b| by_start(b, a));
    cancelled.sort_by(|a, b| by_start(b, a));
    [
        ("Upcoming", upcoming),
        ("Drafts", drafts),
        ("Past", past),
        ("Cancelled", cancelled),
    ]
    .into_iter()
    .filter(|(_, events)| !events.is_empty())
    .map(|(heading, events)| {
        view! {
            <section class="group">
                <h2>{heading} <span class="muted">{format!(" ({})", events.len())}</span></h2>
                <ul class="cards">
                    {events.into_iter().map(|event| view! { <Card event/> }).collect_view()}
                </ul>
            </section>
        }
    })
    .collect_view()
}

#[component]
fn Card(event: Listed) -> impl IntoView {
    let when = time::when(&event.starts_at, Some(&event.time_zone));
    let seats = event
        .capacity
        .map(|c| format!("{} of {c} seats taken", event.attending))
        .unwrap_or_else(|| format!("{} attending", event.attending));
    view! {
        <li class="card">
            <a href=format!("/my/events/{}", event.event_id)>
                <strong>{event.title.clone()}</strong>
                <span class="muted">{when}</span>
                <span class="counts">
                    {seats} " · " {format!("{} invited", event.invited)}
                    {(event.waitlisted > 0).then(|| format!(" · {} waitlisted", event.waitlisted))}
                    {(event.declined > 0).then(|| format!(" · {} declined", event.declined))}
                </span>
            </a>
        </li>
    }
}
