//! The slsplay web app, rendered in the browser. It talks to the GraphQL API only (besides the
//! sign-in provider and the presigned uploads).

mod calendar;
mod forms;
mod graphql;
mod invitation;
mod organizer;
mod pages;
mod pkce;
mod session;
mod sign_in;
mod time;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::path;

use session::Auth;

/// The header: who is signed in, and the way to their events or to signing in.
#[component]
fn Bar() -> impl IntoView {
    let auth = Auth::get();
    let location = use_location();
    let sign_in_href = move || {
        let here = location.pathname.get();
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
    view! {
        <Router>
            <Bar/>
            <main id="main">
                <Routes fallback=pages::NotFound>
                    <Route path=path!("/") view=pages::Home/>
                    <Route path=path!("/signin") view=sign_in::SignInPage/>
                    <Route path=path!("/signin/callback") view=sign_in::Callback/>
                    <Route path=path!("/my/events") view=organizer::MyEventsRoute/>
                    <Route path=path!("/my/events/new") view=organizer::NewEventRoute/>
                    <Route path=path!("/my/events/:event_id") view=organizer::ManageEventRoute/>
                    <Route path=path!("/my/events/:event_id/edit") view=organizer::EditEventRoute/>
                    <Route path=path!("/e/:share_id") view=invitation::InvitationRoute/>
                    <Route path=path!("/events/:event_id/invitation") view=invitation::InvitationRoute/>
                </Routes>
            </main>
        </Router>
    }
}

fn main() {
    leptos::mount::mount_to_body(App);
}
