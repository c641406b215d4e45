//! The guest's page, opened from the personal link in the invitation email: no account needed.
//! The link is the event's preview page, `/e/{share_id}#{event_id}.{token}` (older emails:
//! `/events/{event_id}/invitation#{token}`). The fragment is never sent to a server; the page
//! sends the token only in the `Invitation-Token` header. Someone signed in with the invited
//! address opens `/events/{event_id}/invitation` without the token.

use leptos::prelude::*;

use crate::graphql::{self, AnswerInvitation, InvitationPage, PayTicket, StartCheckout, Unavailable};
use crate::router::Location;
use crate::session::{Auth, storage};
use crate::sign_in::SignInButtons;
use crate::time;

type Invitation = graphql::invitation_page::InvitationPageInvitation;
type Answer = graphql::answer_invitation::RsvpAnswer;
/// Starts a checkout: the provider's page is opened, or why not.
type Checkout = Action<(), Result<Option<String>, Unavailable>>;

/// Where the link's token waits while the guest pays at the provider's page, in this tab only:
/// the provider sends them back without the link's fragment.
fn kept_link(event_id: &str) -> String {
    format!("slsplay.link.{event_id}")
}

/// `event_id`: the path's, on `/events/{event_id}/invitation`; the fragment names it on
/// `/e/{share_id}`.
#[component]
pub fn InvitationRoute(#[prop(optional)] event_id: Option<String>) -> impl IntoView {
    let auth = Auth::get();
    let location = Location::get();
    let fragment = window().location().hash().unwrap_or_default();
    let (linked_event, token) = split_fragment(&fragment);
    // The fragment names the event on /e/{share_id}; the path on /events/{event_id}/invitation.
    let named = linked_event.or(event_id).unwrap_or_default();
    let token = if token.is_empty() {
        storage()
            .and_then(|s| s.get_item(&kept_link(&named)).ok().flatten())
            .unwrap_or_default()
    } else {
        token
    };
    // Back from the checkout with the proof of payment, to confirm once.
    let receipt = StoredValue::new(location.query("receipt"));
    let payment_refused = RwSignal::new(None::<String>);
    let named = StoredValue::new(named);
    let event_id = move || named.get_value();
    let link = StoredValue::new(token);
    let invitation = LocalResource::new(move || {
        let event_id = event_id();
        // Signing in (or out) on this page changes who asks.
        let signed_in = auth.session().is_some();
        async move {
            let token = link.get_value();
            if event_id.is_empty() || (token.is_empty() && !signed_in) {
                return Ok(None);
            }
            if let Some(proof) = receipt.get_value() {
                receipt.set_value(None);
                let data = graphql::as_guest::<PayTicket>(
                    auth,
                    &token,
                    graphql::pay_ticket::Variables {
                        event_id: event_id.clone(),
                        receipt: proof,
                    },
                )
                .await?;
                payment_refused.set(data.pay_ticket.user_errors.into_iter().next().map(|e| e.message));
                // Spent: a reload does not send it again.
                location.navigate(&window().location().pathname().unwrap_or_default(), true);
            }
            let data = graphql::as_guest::<InvitationPage>(
                auth,
                &token,
                graphql::invitation_page::Variables { event_id },
            )
            .await?;
            Ok::<_, Unavailable>(data.invitation)
        }
    });
    // A waitlisted guest sees a freed seat come to them without reloading.
    if let Ok(ticking) = set_interval_with_handle(
        move || {
            let waiting = invitation
                .get_untracked()
                .and_then(Result::ok)
                .flatten()
                .is_some_and(|i| i.rsvp == "waitlisted");
            if waiting {
                invitation.refetch();
            }
        },
        std::time::Duration::from_secs(5),
    ) {
        on_cleanup(move || ticking.clear());
    }
    // The preview page's drawing of the event gives way once this page has its answer.
    Effect::new(move |_| {
        if invitation.with(Option::is_some)
            && let Some(drawn) = document().get_element_by_id("prerendered")
        {
            drawn.remove();
        }
    });
    let answer = Action::new_local(move |answer: &Answer| {
        let (answer, event_id, token) = (answer.clone(), event_id(), link.get_value());
        async move {
            let data = graphql::as_guest::<AnswerInvitation>(
                auth,
                &token,
                graphql::answer_invitation::Variables { event_id, answer },
            )
            .await?;
            let refused = data.rsvp.user_errors.into_iter().next().map(|e| e.message);
            if refused.is_none() {
                invitation.refetch();
            }
            Ok::<_, Unavailable>(refused)
        }
    });

    let checkout: Checkout = Action::new_local(move |(): &()| {
        let (event_id, token) = (event_id(), link.get_value());
        async move {
            let data = graphql::as_guest::<StartCheckout>(
                auth,
                &token,
                graphql::start_checkout::Variables {
                    event_id: event_id.clone(),
                },
            )
            .await?;
            let payload = data.start_checkout;
            match (payload.checkout_url, payload.user_errors.into_iter().next()) {
                (Some(url), _) => {
                    if !token.is_empty()
                        && let Some(tab) = storage()
                    {
                        let _ = tab.set_item(&kept_link(&event_id), &token);
                    }
                    let _ = window().location().assign(&url);
                    Ok(None)
                }
                (None, refused) => Ok(Some(refused.map_or_else(
                    || "the platform did not open a checkout; try again".to_owned(),
                    |e| e.message,
                ))),
            }
        }
    });

    view! {
        {move || payment_refused.get().map(|why| view! {
            <p class="error" role="alert">"Your payment could not be confirmed: " {why}</p>
        })}
        <Transition fallback=|| view! { <p class="status" role="status">"Opening your invitation…"</p> }>
            {move || {
                invitation
                    .get()
                    .map(|loaded| match loaded {
                        Ok(Some(found)) => view! { <InvitationView event_id=event_id() found answer checkout/> }.into_any(),
                        Ok(None) if !link.with_value(String::is_empty) => view! { <NotOpened/> }.into_any(),
                        Ok(None) => match auth.session() {
                            Some(session) => view! { <NotForThisAccount email=session.email/> }.into_any(),
                            None => view! { <SignInToOpen/> }.into_any(),
                        },
                        Err(Unavailable(why)) => view! { <Outage why/> }.into_any(),
                    })
            }}
        </Transition>
    }
}

/// `#{event_id}.{token}` or, in older links, `#{token}`: (the event, if named, and the token).
/// Neither ids nor tokens contain a dot.
fn split_fragment(fragment: &str) -> (Option<String>, String) {
    let fragment = fragment.trim_start_matches('#');
    match fragment.split_once('.') {
        Some((event_id, token)) => (Some(event_id.to_owned()), token.to_owned()),
        None => (None, fragment.to_owned()),
    }
}

#[component]
fn InvitationView(
    event_id: String,
    found: Invitation,
    answer: Action<Answer, Result<Option<String>, Unavailable>>,
    checkout: Checkout,
) -> impl IntoView {
    let event = found.event.clone();
    let price = event
        .ticket_price
        .as_ref()
        .map(|p| crate::forms::show_price(p.amount_minor, &p.currency));
    let own_zone = time::own_zone();
    let in_event_zone = time::when(&event.starts_at, Some(&event.time_zone));
    let in_own_zone =
        (own_zone.as_deref() != Some(event.time_zone.as_str())).then(|| time::when(&event.starts_at, None));
    let cancelled = matches!(event.status, graphql::invitation_page::EventStatus::CANCELLED);
    let rsvp = found.rsvp.clone();
    let state = match rsvp.as_str() {
        "attending" => "You are attending.",
        "declined" => "You declined.",
        "waitlisted" => "You are on the waitlist: you will be told when a seat frees up.",
        "seat_held" => "A seat is held for you until you pay.",
        "no_answer" => "You did not answer before it started.",
        _ => "You have not answered yet.",
    };
    let state = match (found.waitlist_position, found.hold_until.as_deref(), &price) {
        (Some(n), _, _) if rsvp == "waitlisted" => {
            format!("You are number {n} on the waitlist: you will be told when a seat frees up.")
        }
        (_, Some(until), Some(price)) if rsvp == "seat_held" => format!(
            "A seat is held for you until {}. Pay {price} to make it yours.",
            time::when(until, None)
        ),
        _ => state.to_owned(),
    };
    let pay = (rsvp == "seat_held").then(|| price.clone()).flatten();
    let paid = found.payment == "paid";
    let starts_ms = time::epoch_ms(&event.starts_at);
    let calendar = calendar_file(&event_id, &found, starts_ms);
    let duration = event.duration_minutes;
    let now = RwSignal::new(js_sys::Date::now());
    // A minute is the countdown's finest unit.
    if let Ok(ticking) = set_interval_with_handle(
        move || now.set(js_sys::Date::now()),
        std::time::Duration::from_secs(30),
    ) {
        on_cleanup(move || ticking.clear());
    }
    let countdown = move || time::countdown(now.get(), starts_ms, duration);
    let auth = Auth::get();
    let keep_href = format!(
        "/signin?return={}",
        String::from(js_sys::encode_uri_component(&format!(
            "/events/{event_id}/invitation"
        )))
    );
    let pending = answer.pending();
    let outcome = answer.value();
    view! {
        <article class="invitation">
            {event.cover_photo_url.clone().map(|src| view! { <img class="cover" src=src alt=""/> })}
            <p class="eyebrow">"You are invited"</p>
            <h1>{event.title.clone()}</h1>
            <p class="when">
                <time datetime=event.starts_at.clone()>{in_event_zone}</time>
                {in_own_zone.map(|t| view! { <br/><span class="muted">"Your time: " {t}</span> })}
                <br/><span class="muted">{format!("{} minutes, online", event.duration_minutes)}</span>
                {price.clone().map(|p| view! { <br/><span class="muted">{format!("Ticket {p}, not refundable")}</span> })}
            </p>
            <p class="countdown">{countdown}</p>
            <p class="description">{event.description.clone()}</p>
            {if cancelled {
                view! {
                    <p class="notice" role="status">
                        "This event was cancelled. " {event.cancel_message.clone().unwrap_or_default()}
                    </p>
                }
                    .into_any()
            } else {
                view! {
                    <p class="rsvp-state" role="status">{state}</p>
                    {pay.map(|price| {
                        let paying = checkout.pending();
                        view! {
                            <p>
                                <button class="primary" disabled=move || paying.get()
                                    on:click=move |_| { checkout.dispatch(()); }
                                >{format!("Pay {price}")}</button>
                            </p>
                        }
                    })}
                    {move || match checkout.value().get() {
                        Some(Ok(Some(refused))) => Some(view! { <p class="error" role="alert">{refused}</p> }.into_any()),
                        Some(Err(Unavailable(why))) => Some(view! { <p class="error" role="alert">{why}</p> }.into_any()),
                        _ => None,
                    }}
                    {found.meeting_url.clone().map(|url| {
                        let shown = url.clone();
                        view! { <p class="join">"Join here: " <a href=url rel="noreferrer">{shown}</a></p> }
                    })}
                    {move || auth.session().is_none().then(|| view! {
                        <p class="muted">
                            <a href=keep_href.clone()>"Sign in"</a>
                            " with the address this invitation went to, and find it again under Invitations."
                        </p>
                    })}
                    {calendar.map(|href| view! {
                        <p><a class="button" href=href download="invitation.ics">"Add to calendar"</a></p>
                    })}
                    // Answers are taken until the start; after it the buttons would only be refused.
                    <div class="actions" hidden={move || now.get() >= starts_ms}>
                        <button
                            class="primary"
                            disabled=move || pending.get() || matches!(rsvp.as_str(), "attending" | "waitlisted" | "seat_held")
                            on:click=move |_| { answer.dispatch(Answer::ACCEPT); }
                        >"Accept"</button>
                        <button
                            disabled=move || pending.get() || found.rsvp == "declined"
                            on:click=move |_| {
                                // A paid ticket is not refunded: giving up the seat is asked twice.
                                if !paid || window().confirm_with_message("Your ticket is not refundable. Give up your seat anyway?").unwrap_or(false) {
                                    answer.dispatch(Answer::DECLINE);
                                }
                            }
                        >"Decline"</button>
                    </div>
                    {move || match outcome.get() {
                        Some(Ok(Some(refused))) => Some(view! { <p class="error" role="alert">{refused}</p> }.into_any()),
                        Some(Err(Unavailable(why))) => Some(view! { <p class="error" role="alert">{why}</p> }.into_any()),
                        _ => None,
                    }}
                }
                    .into_any()
            }}
        </article>
    }
}

/// An object URL of the event as an .ics file (with the meeting link once confirmed). The
/// page's address goes in without its fragment: the token stays out of calendars.
fn calendar_file(event_id: &str, found: &Invitation, starts_ms: f64) -> Option<String> {
    let location = window().location();
    let url = format!("{}{}", location.origin().ok()?, location.pathname().ok()?);
    let event = &found.event;
    let ics = crate::calendar::ics(&crate::calendar::Entry {
        uid: &format!("{event_id}@slsplay"),
        start_ms: starts_ms,
        minutes: event.duration_minutes,
        title: &event.title,
        description: &event.description,
        url: &url,
        location: found.meeting_url.as_deref(),
        now_ms: js_sys::Date::now(),
    });
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(&ics));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/calendar;charset=utf-8");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).ok()?;
    let href = web_sys::Url::create_object_url_with_blob(&blob).ok()?;
    let revoke = href.clone();
    on_cleanup(move || {
        let _ = web_sys::Url::revoke_object_url(&revoke);
    });
    Some(href)
}

/// The link's token opens no invitation to this event (mistyped, revoked, or the event is gone).
#[component]
fn NotOpened() -> impl IntoView {
    view! {
        <section>
            <h1>"This link opens no invitation"</h1>
            <p>
                "It may be incomplete (copy the whole link from the email), or the invitation was "
                "withdrawn. Ask the organizer to invite you again."
            </p>
        </section>
    }
}

/// `/events/{event_id}/invitation` without a link, signed out: the invited address opens it.
#[component]
fn SignInToOpen() -> impl IntoView {
    // With its query: a receipt back from the checkout survives the sign-in.
    let here = Location::get();
    let here = format!("{}{}", here.path.get_untracked(), here.search.get_untracked());
    view! {
        <section class="sign-in">
            <h1>"Open your invitation"</h1>
            <p>"Open the link in your invitation email, or sign in with the address the invitation was sent to."</p>
            <SignInButtons return_to=here/>
        </section>
    }
}

/// Signed in, without a link, and this account's address was not invited to this event.
#[component]
fn NotForThisAccount(email: Option<String>) -> impl IntoView {
    let who = email.unwrap_or_else(|| "this account".to_owned());
    view! {
        <section>
            <h1>"No invitation for this account"</h1>
            <p>
                {format!("This event has no invitation for {who}. ")}
                "Open the link in your invitation email, or sign in with the address it was sent to."
            </p>
        </section>
    }
}

/// The platform could not answer: said as such, never as "not found".
#[component]
fn Outage(why: String) -> impl IntoView {
    view! {
        <section>
            <h1>"Your invitation cannot be shown right now"</h1>
            <p role="alert">{why}</p>
            <p><button on:click=|_| { let _ = window().location().reload(); }>"Try again"</button></p>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::split_fragment;

    #[test]
    fn a_link_names_its_event_in_the_fragment_or_in_the_path() {
        assert_eq!(
            split_fragment("#ev-1.tok_en"),
            (Some("ev-1".into()), "tok_en".into())
        );
        assert_eq!(split_fragment("#tok_en"), (None, "tok_en".into()));
        assert_eq!(split_fragment(""), (None, String::new()));
    }
}
