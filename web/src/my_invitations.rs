//! `/my/invitations`: the invitations to the signed-in person's verified email. Signing in with
//! the address an invitation went to links it to the account: it is listed here and opens
//! without the emailed link.

use leptos::prelude::*;

use crate::graphql::{self, MyInvitations, Unavailable};
use crate::session::Auth;
use crate::sign_in::RequireSignIn;
use crate::time;

type Listed = graphql::my_invitations::MyInvitationsViewerInvitationsNodes;
type Status = graphql::my_invitations::EventStatus;

#[component]
pub fn MyInvitationsRoute() -> impl IntoView {
    view! {
        <RequireSignIn
            heading="Sign in to see your invitations"
            hint="Use the address your invitations were sent to."
        >
            <InvitationList/>
        </RequireSignIn>
    }
}

#[component]
fn InvitationList() -> impl IntoView {
    let auth = Auth::get();
    let invitations = LocalResource::new(move || async move {
        let data = graphql::as_viewer::<MyInvitations>(auth, graphql::my_invitations::Variables {}).await?;
        Ok::<_, Unavailable>((data.viewer.email, data.viewer.invitations.nodes))
    });
    view! {
        <h1>"Your invitations"</h1>
        <Transition fallback=|| view! { <p class="status" role="status">"Loading your invitations…"</p> }>
            {move || invitations.get().map(|loaded| match loaded {
                Ok((None, _)) => view! {
                    <section class="empty">
                        <h2>"No verified email"</h2>
                        <p>"Your sign-in provider did not confirm an email address, so no invitation can be matched to you. Open your invitation from the link in its email."</p>
                    </section>
                }.into_any(),
                Ok((Some(email), found)) if found.is_empty() => view! {
                    <section class="empty">
                        <h2>"No invitations yet"</h2>
                        <p>{format!("Invitations sent to {email} show here. One sent to another address opens from the link in its email.")}</p>
                    </section>
                }.into_any(),
                Ok((Some(email), found)) => view! { <Listing email found/> }.into_any(),
                Err(Unavailable(why)) => view! { <p class="error" role="alert">"Your invitations cannot be shown right now: " {why}</p> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn Listing(email: String, found: Vec<Listed>) -> impl IntoView {
    let now = js_sys::Date::now();
    // Those still to come first, soonest first; then the rest, latest first.
    let (mut coming, mut rest): (Vec<_>, Vec<_>) = found.into_iter().partition(|i| {
        i.event
            .as_ref()
            .is_some_and(|e| !matches!(e.status, Status::CANCELLED) && time::epoch_ms(&e.ends_at) > now)
    });
    let start = |i: &Listed| i.event.as_ref().map(|e| e.starts_at.clone());
    coming.sort_by_key(start);
    rest.sort_by_key(|i| std::cmp::Reverse(start(i)));
    view! {
        <p class="muted">{format!("Sent to {email}.")}</p>
        <ul class="cards">
            {coming.into_iter().chain(rest).filter_map(|i| {
                let event = i.event?;
                let answer = match i.rsvp.as_str() {
                    "attending" => "Attending",
                    "declined" => "Declined",
                    "waitlisted" => "Waitlisted",
                    "seat_held" => "Seat held, to pay",
                    "no_answer" => "No answer",
                    _ => "Not answered",
                };
                let answer = if matches!(event.status, Status::CANCELLED) { "Cancelled" } else { answer };
                let when = time::when(&event.starts_at, Some(&event.time_zone));
                Some(view! {
                    <li class="card">
                        <a href=format!("/events/{}/invitation", event.event_id)>
                            <strong>{event.title}</strong>
                            <span class="muted">{when}</span>
                            <span class="counts">{answer}</span>
                        </a>
                    </li>
                })
            }).collect_view()}
        </ul>
    }
}
