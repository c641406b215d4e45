//! The slsplay web app, rendered in the browser. It talks to the GraphQL API only (besides the
//! sign-in provider and the presigned uploads).

mod calendar;
mod forms;
mod graphql;
mod invitation;
mod my_invitations;
mod organizer;
mod pages;
mod pkce;
mod router;
mod session;
mod sign_in;
mod time;

use leptos::prelude::*;

use router::Location;
use session::Auth;

/// The header: who is signed in, and the way to their events or to signing in.
#[component]
fn Bar() -> impl IntoView {
    let auth = Auth::get();
    let location = Location::get();
    let sign_in_href = move || {
        let here = location.path.get();
        if here.starts_with("/signin") {
            "/signin".to_owned()
        } else {
            format!(
                "/signin?return={}",
                String::from(js_sys::encode_uri_component(&here))
            )
        }
    };
    view! {
        <header class="bar">
            <a class="brand" href="/">"slsplay"</a>
            <nav aria-label="Account">
                {move || match auth.session() {
                    Some(session) => view! {
                        <a href="/my/events">"My events"</a>
                        <a href="/my/invitations">"Invitations"</a>
                        <span class="who muted">{session.display_name()}</span>
                        <button class="small" on:click=move |_| auth.sign_out()>"Sign out"</button>
                    }.into_any(),
                    None => view! { <a href=sign_in_href>"Sign in"</a> }.into_any(),
                }}
            </nav>
        </header>
    }
}

#[component]
fn App() -> impl IntoView {
    Auth::provide();
    let location = Location::provide();
    view! {
        <Bar/>
        <main id="main">{move || page(&location.path.get())}</main>
    }
}

/// The page for a path: every address that is not the platform's own is one of these.
fn page(path: &str) -> AnyView {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [] => view! { <pages::Home/> }.into_any(),
        ["signin"] => view! { <sign_in::SignInPage/> }.into_any(),
        ["signin", "callback"] => view! { <sign_in::Callback/> }.into_any(),
        ["my", "events"] => view! { <organizer::MyEventsRoute/> }.into_any(),
        ["my", "events", "new"] => view! { <organizer::NewEventRoute/> }.into_any(),
        ["my", "events", event] => {
            view! { <organizer::ManageEventRoute event_id=(*event).to_owned()/> }.into_any()
        }
        ["my", "events", event, "edit"] => {
            view! { <organizer::EditEventRoute event_id=(*event).to_owned()/> }.into_any()
        }
        ["my", "invitations"] => view! { <my_invitations::MyInvitationsRoute/> }.into_any(),
        ["e", _share] => view! { <invitation::InvitationRoute/> }.into_any(),
        ["events", event, "invitation"] => {
            view! { <invitation::InvitationRoute event_id=(*event).to_owned()/> }.into_any()
        }
        _ => view! { <pages::NotFound/> }.into_any(),
    }
}

fn main() {
    leptos::mount::mount_to_body(App);
}
