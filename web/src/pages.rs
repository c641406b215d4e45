//! The app's pages.

use leptos::prelude::*;

/// What someone who opens the platform's address sees.
#[component]
pub fn Home() -> impl IntoView {
    view! {
        <section class="hero">
            <h1>"Private online events, for the people you invite"</h1>
            <p>
                "Create an event, invite your guests by email and let them answer from their "
                "personal link. Only confirmed guests see the meeting link, and an hour before "
                "the start you get the list of who will attend."
            </p>
        </section>
    }
}

/// An address the app has no page for (the server answers every application route with the
/// app, so this is the app's own "not found").
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <section>
            <h1>"This page does not exist"</h1>
            <p>"The link may be mistyped or out of date. " <a href="/">"Go to the start page"</a></p>
        </section>
    }
}
