//! The slsplay web app, rendered in the browser. It talks to the GraphQL API only (besides the
//! sign-in provider and the presigned uploads).

mod graphql;
mod invitation;
mod pages;
mod time;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

#[component]
fn App() -> impl IntoView {
    view! {
        <Router>
            <header class="bar">
                <a class="brand" href="/">"slsplay"</a>
            </header>
            <main id="main">
                <Routes fallback=pages::NotFound>
                    <Route path=path!("/") view=pages::Home/>
                    <Route path=path!("/events/:event_id/invitation") view=invitation::InvitationRoute/>
                </Routes>
            </main>
        </Router>
    }
}

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}
