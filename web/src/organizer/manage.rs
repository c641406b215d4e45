//! One event, as its organizer runs it: publish, invite (with a preview of what the pasted
//! addresses would do), the guest list with live counts, revoke, reschedule, cancel.

use std::collections::HashSet;
use std::time::Duration;

use leptos::prelude::*;

use super::media::{Media, Upload};
use crate::forms::{preview_invites, show_price};
use crate::graphql::{
    self, CancelEvent, InviteGuests, ManagedEvent, PublishEvent, RevokeInvitation, Unavailable, user_errors,
};
use crate::pkce;
use crate::session::Auth;
use crate::sign_in::RequireSignIn;
use crate::time;

type Event = graphql::managed_event::ManagedEventEvent;
type Guest = graphql::managed_event::ManagedEventEventGuestsNodes;
type Status = graphql::managed_event::EventStatus;

/// The guest list is read in pages of 100; this many pages at most per refresh.
const MAX_GUEST_PAGES: usize = 20;
/// How often the counts refresh while the page is open.
const REFRESH: Duration = Duration::from_secs(10);

/// `/my/events/:event_id`.
#[component]
pub fn ManageEventRoute(event_id: String) -> impl IntoView {
    view! { <RequireSignIn><Manage event_id=event_id.clone()/></RequireSignIn> }
}

/// The first refusal of a mutation, as a sentence.
fn refusal<'a>(errors: impl IntoIterator<Item = (Option<&'a str>, &'a str)>) -> Option<String> {
    errors.into_iter().next().map(|(field, message)| match field {
        Some(field) if !field.is_empty() => format!("{field}: {message}"),
        _ => message.to_owned(),
    })
}

async fn load(auth: Auth, event_id: String) -> Result<Option<(Event, Vec<Guest>)>, Unavailable> {
    let mut guests = Vec::new();
    let mut after = None;
    let mut first = None;
    for _ in 0..MAX_GUEST_PAGES {
        let data = graphql::as_viewer::<ManagedEvent>(
            auth,
            graphql::managed_event::Variables {
                event_id: event_id.clone(),
                after: after.clone(),
            },
        )
        .await?;
        let Some(event) = data.event else { return Ok(None) };
        let page = event.guests.page_info.clone();
        guests.extend(event.guests.nodes.iter().cloned());
        first.get_or_insert(event);
        if !page.has_next_page {
            break;
        }
        after = page.end_cursor;
    }
    Ok(first.map(|event| (event, guests)))
}

#[component]
fn Manage(event_id: String) -> impl IntoView {
    let auth = Auth::get();
    let event_id = StoredValue::new(event_id);
    let loaded = LocalResource::new(move || load(auth, event_id.get_value()));
    // What the organizer is typing outlives the refreshes, which render the page anew.
    let drafts = Drafts {
        emails: RwSignal::new(String::new()),
        invited: RwSignal::new(None),
        cancel_open: RwSignal::new(false),
        cancel_message: RwSignal::new(String::new()),
        photo: Upload::new(),
        video: Upload::new(),
    };
    if let Ok(ticking) = set_interval_with_handle(
        move || {
            if !drafts.typing() {
                loaded.refetch();
            }
        },
        REFRESH,
    ) {
        on_cleanup(move || ticking.clear());
    }
    view! {
        <Transition fallback=|| view! { <p class="status" role="status">"Loading the event…"</p> }>
            {move || loaded.get().map(|result| match result {
                Ok(Some((event, guests))) if event.viewer_is_organizer => {
                    view! { <EventView event guests drafts refresh=Callback::new(move |()| loaded.refetch())/> }.into_any()
                }
                Ok(_) => view! {
                    <section>
                        <h1>"This event is not yours to manage"</h1>
                        <p>"It does not exist, or another organizer runs it. " <a href="/my/events">"Your events"</a></p>
                    </section>
                }.into_any(),
                Err(Unavailable(why)) => view! {
                    <section>
                        <h1>"The event cannot be shown right now"</h1>
                        <p role="alert">{why}</p>
                    </section>
                }.into_any(),
            })}
        </Transition>
    }
}

/// The page's unsent input and last notice, kept across refreshes.
#[derive(Clone, Copy)]
struct Drafts {
    emails: RwSignal<String>,
    invited: RwSignal<Option<String>>,
    cancel_open: RwSignal<bool>,
    cancel_message: RwSignal<String>,
    photo: Upload,
    video: Upload,
}

impl Drafts {
    /// The live refresh waits while someone types here, has a field focused or uploads:
    /// rendering the page anew would move their focus.
    fn typing(&self) -> bool {
        let in_field = document()
            .active_element()
            .is_some_and(|e| matches!(e.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
        in_field
            || !self.emails.with_untracked(String::is_empty)
            || !self.cancel_message.with_untracked(String::is_empty)
            || self.photo.busy()
            || self.video.busy()
    }
}

#[component]
fn EventView(event: Event, guests: Vec<Guest>, drafts: Drafts, refresh: Callback<()>) -> impl IntoView {
    let auth = Auth::get();
    let event_id = StoredValue::new(event.event_id.clone());
    let version = event.version;
    let status = event.status.clone();
    let publish = Action::new_local(move |()| async move {
        let data = graphql::as_viewer::<PublishEvent>(
            auth,
            graphql::publish_event::Variables {
                event_id: event_id.get_value(),
                expected_version: Some(version),
            },
        )
        .await?;
        let refused = refusal(user_errors!(data.publish_event));
        if refused.is_none() {
            refresh.run(());
        }
        Ok::<_, Unavailable>(refused)
    });
    let in_event_zone = time::when(&event.starts_at, Some(&event.time_zone));
    let in_own_zone = (time::own_zone().as_deref() != Some(event.time_zone.as_str()))
        .then(|| time::when(&event.starts_at, None));
    let (badge, badge_class) = match status {
        Status::DRAFT => ("Draft", "badge draft"),
        Status::CANCELLED => ("Cancelled", "badge cancelled"),
        _ => ("Published", "badge published"),
    };
    let started = time::epoch_ms(&event.starts_at) <= js_sys::Date::now();
    let pending = guests.iter().filter(|g| g.rsvp == "invited").count();
    let paid = guests.iter().filter(|g| g.payment == "paid").count();
    let invited: HashSet<String> = guests
        .iter()
        .filter(|g| g.rsvp != "revoked")
        .map(|g| g.email.clone())
        .collect();
    let counts = [
        ("Attending", event.attending as usize),
        ("Seat held", event.seats_held as usize),
        ("Waitlisted", event.waitlisted as usize),
        ("Pending", pending),
        ("Declined", event.declined as usize),
        ("Paid", paid),
    ];
    let cancelled = matches!(status, Status::CANCELLED);
    let draft = matches!(status, Status::DRAFT);
    view! {
        <article class="manage">
            {(cancelled || started).then(|| event.cover_photo_url.clone().map(|src| view! { <img class="cover" src=src alt=""/> }))}
            <p><span class=badge_class>{badge}</span></p>
            <h1>{event.title.clone()}</h1>
            <p class="when">
                <time datetime=event.starts_at.clone()>{in_event_zone}</time>
                {in_own_zone.map(|t| view! { <br/><span class="muted">"Your time: " {t}</span> })}
                <br/><span class="muted">
                    {format!("{} minutes", event.duration_minutes)}
                    {event.capacity.map(|c| format!(" · {c} seats"))}
                    {event.ticket_price.as_ref().map(|p| format!(" · {} a ticket", show_price(p.amount_minor, &p.currency)))}
                </span>
            </p>
            {cancelled.then(|| view! {
                <p class="notice" role="status">"Cancelled. Guests were told: " {event.cancel_message.clone().unwrap_or_default()}</p>
            })}
            <div class="actions">
                {(!cancelled && !started).then(|| view! {
                    <a class="button" href=format!("/my/events/{}/edit", event.event_id)>{if draft { "Edit" } else { "Edit or reschedule" }}</a>
                })}
                {draft.then(|| view! {
                    <button class="primary" disabled=move || publish.pending().get() on:click=move |_| { publish.dispatch(()); }>
                        "Publish"
                    </button>
                })}
            </div>
            {move || match publish.value().get() {
                Some(Ok(Some(why))) | Some(Err(Unavailable(why))) => Some(view! { <p class="error" role="alert">{why}</p> }),
                _ => None,
            }}
            {draft.then(|| view! {
                <p class="muted">"Guests you invite now get their email once you publish."</p>
            })}
            <section aria-labelledby="counts-heading">
                <h2 id="counts-heading">"Guests"</h2>
                <dl class="counts-grid">
                    {counts.into_iter().map(|(label, n)| view! { <div><dt>{label}</dt><dd>{n}</dd></div> }).collect_view()}
                </dl>
            </section>
            {(!cancelled && !started).then(|| view! {
                <Media event_id=event_id.get_value() cover_photo_url=event.cover_photo_url.clone() video_url=event.video_url.clone()
                    photo=drafts.photo video=drafts.video refresh/>
            })}
            {(!cancelled && !started).then(|| view! { <Invite event_id=event_id.get_value() invited drafts refresh/> })}
            <GuestList event_id=event_id.get_value() guests refresh/>
            {(!cancelled && !draft && !started).then(|| view! { <Cancel event_id=event_id.get_value() drafts refresh/> })}
        </article>
    }
}

#[component]
fn Invite(
    event_id: String,
    invited: HashSet<String>,
    drafts: Drafts,
    refresh: Callback<()>,
) -> impl IntoView {
    let auth = Auth::get();
    let pasted = drafts.emails;
    let invited = StoredValue::new(invited);
    let preview = Memo::new(move |_| pasted.with(|p| invited.with_value(|i| preview_invites(p, i))));
    let event_id = StoredValue::new(event_id);
    let send = Action::new_local(move |emails: &Vec<String>| {
        let emails = emails.clone();
        async move {
            let mut refused = None;
            // The API takes up to 100 addresses a call; each batch has its own key.
            for batch in emails.chunks(slsplay_rules::MAX_INVITES_PER_CALL) {
                let data = graphql::as_viewer::<InviteGuests>(
                    auth,
                    graphql::invite_guests::Variables {
                        event_id: event_id.get_value(),
                        emails: batch.to_vec(),
                        idempotency_key: pkce::random().ok(),
                    },
                )
                .await?;
                refused = refusal(user_errors!(data.invite_guests));
                if refused.is_some() {
                    break;
                }
            }
            match &refused {
                None => {
                    pasted.set(String::new());
                    drafts.invited.set(Some(format!(
                        "Invited {}. Their emails are on the way.",
                        emails.len()
                    )));
                }
                Some(_) => drafts.invited.set(None),
            }
            refresh.run(());
            Ok::<_, Unavailable>(refused)
        }
    });
    view! {
        <section class="invite" aria-labelledby="invite-heading">
            <h2 id="invite-heading">"Invite"</h2>
            <label for="emails">"Email addresses"</label>
            <p class="hint" id="emails-hint">"Paste as many as you like: one per line, or separated by commas."</p>
            <textarea id="emails" rows="4" bind:value=pasted aria-describedby="emails-hint invite-preview"
                placeholder="ann@example.com, bob@example.com"></textarea>
            <div id="invite-preview" class="preview" aria-live="polite">
                {move || {
                    let p = preview.get();
                    view! {
                        {(!p.new.is_empty()).then(|| view! { <p class="ok">{format!("{} to invite", p.new.len())}</p> })}
                        {(!p.invalid.is_empty()).then(|| view! {
                            <div class="field-error">
                                <p>{format!("{} not valid, will not be sent:", p.invalid.len())}</p>
                                <ul>{p.invalid.iter().map(|(raw, why)| view! { <li><strong>{raw.clone()}</strong>": " {why.clone()}</li> }).collect_view()}</ul>
                            </div>
                        })}
                        {(!p.already_invited.is_empty()).then(|| view! {
                            <p class="muted">{format!("Already invited: {}", p.already_invited.join(", "))}</p>
                        })}
                    }
                }}
            </div>
            <div class="actions">
                <button class="primary"
                    disabled=move || send.pending().get() || preview.with(|p| p.new.is_empty())
                    on:click=move |_| { send.dispatch(preview.get_untracked().new); }>
                    {move || match preview.with(|p| p.new.len()) {
                        0 => "Send invitations".to_owned(),
                        1 => "Send 1 invitation".to_owned(),
                        n => format!("Send {n} invitations"),
                    }}
                </button>
            </div>
            <p class="ok" role="status">{move || drafts.invited.get()}</p>
            {move || match send.value().get() {
                Some(Ok(Some(why))) | Some(Err(Unavailable(why))) => Some(view! { <p class="error" role="alert">{why}</p> }),
                _ => None,
            }}
        </section>
    }
}

fn answer(rsvp: &str) -> &'static str {
    match rsvp {
        "attending" => "Attending",
        "seat_held" => "Seat held",
        "waitlisted" => "Waitlisted",
        "declined" => "Declined",
        "revoked" => "Revoked",
        "no_answer" => "No answer",
        _ => "Pending",
    }
}

#[component]
fn GuestList(event_id: String, guests: Vec<Guest>, refresh: Callback<()>) -> impl IntoView {
    let auth = Auth::get();
    let event_id = StoredValue::new(event_id);
    let revoke = Action::new_local(move |invitation_id: &String| {
        let invitation_id = invitation_id.clone();
        async move {
            let data = graphql::as_viewer::<RevokeInvitation>(
                auth,
                graphql::revoke_invitation::Variables {
                    event_id: event_id.get_value(),
                    invitation_id,
                },
            )
            .await?;
            let refused = refusal(user_errors!(data.revoke_invitation));
            refresh.run(());
            Ok::<_, Unavailable>(refused)
        }
    });
    if guests.is_empty() {
        return view! { <p class="muted">"No one is invited yet."</p> }.into_any();
    }
    view! {
        <table class="guests">
            <caption class="visually-hidden">"Guest list"</caption>
            <thead><tr><th scope="col">"Guest"</th><th scope="col">"Answer"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
            <tbody>
                {guests.into_iter().map(|guest| {
                    let id = guest.invitation_id.clone();
                    let email = guest.email.clone();
                    let paid = (guest.payment == "paid").then_some(" · paid");
                    view! {
                        <tr>
                            <td class="email">
                                {guest.name.clone().map(|name| view! { <span class="name">{name}</span><br/> })}
                                {guest.email.clone()}
                            </td>
                            <td>{answer(&guest.rsvp)}{paid}</td>
                            <td>
                                {(guest.rsvp == "invited").then(|| view! {
                                    <button class="small" aria-label=format!("Revoke the invitation of {email}")
                                        disabled=move || revoke.pending().get()
                                        on:click=move |_| { revoke.dispatch(id.clone()); }>"Revoke"</button>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        {move || match revoke.value().get() {
            Some(Ok(Some(why))) | Some(Err(Unavailable(why))) => Some(view! { <p class="error" role="alert">{why}</p> }),
            _ => None,
        }}
    }
    .into_any()
}

#[component]
fn Cancel(event_id: String, drafts: Drafts, refresh: Callback<()>) -> impl IntoView {
    let auth = Auth::get();
    let open = drafts.cancel_open;
    let message = drafts.cancel_message;
    let event_id = StoredValue::new(event_id);
    let cancel = Action::new_local(move |text: &String| {
        let text = text.clone();
        async move {
            let data = graphql::as_viewer::<CancelEvent>(
                auth,
                graphql::cancel_event::Variables {
                    event_id: event_id.get_value(),
                    message: text,
                },
            )
            .await?;
            let refused = refusal(user_errors!(data.cancel_event));
            if refused.is_none() {
                refresh.run(());
            }
            Ok::<_, Unavailable>(refused)
        }
    });
    let local = move || slsplay_rules::cancel_message(&message.get()).err();
    let tried = RwSignal::new(false);
    view! {
        <section class="danger" aria-labelledby="cancel-heading">
            <h2 id="cancel-heading">"Cancel the event"</h2>
            {move || if !open.get() {
                view! { <button on:click=move |_| open.set(true)>"Cancel event…"</button> }.into_any()
            } else {
                view! {
                    <label for="cancel-message">"Message to your guests"</label>
                    <textarea id="cancel-message" rows="3" bind:value=message aria-describedby="cancel-error"></textarea>
                    <p class="field-error" id="cancel-error" aria-live="polite">{move || tried.get().then(local).flatten()}</p>
                    <div class="actions">
                        <button class="danger-button" disabled=move || cancel.pending().get()
                            on:click=move |_| {
                                tried.set(true);
                                if local().is_none() { cancel.dispatch(message.get_untracked()); }
                            }>"Cancel the event and tell guests"</button>
                        <button on:click=move |_| open.set(false)>"Keep it"</button>
                    </div>
                }.into_any()
            }}
            {move || match cancel.value().get() {
                Some(Ok(Some(why))) | Some(Err(Unavailable(why))) => Some(view! { <p class="error" role="alert">{why}</p> }),
                _ => None,
            }}
        </section>
    }
}
