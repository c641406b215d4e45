//! Client-side navigation: the address as signals, same-origin link clicks and back/forward
//! handled without loading the page again, and `navigate`. The routes themselves are a `match`
//! in main.rs. A router library did this for about 8% of the shipped bytes.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// Paths the platform serves itself: a link there is a real page load, not an app route.
const SERVER_PATHS: [&str; 4] = ["/api/", "/graphql", "/dev/", "/blobs/"];

#[derive(Clone, Copy)]
pub struct Location {
    /// Like `/my/events/ev-1`.
    pub path: RwSignal<String>,
    /// The query with its `?`, or empty.
    pub search: RwSignal<String>,
}

impl Location {
    /// Follows the address for the whole app.
    pub fn provide() -> Self {
        let location = Self {
            path: RwSignal::new(String::new()),
            search: RwSignal::new(String::new()),
        };
        location.sync();
        provide_context(location);
        let on_history = Closure::<dyn Fn()>::new(move || location.sync());
        let _ = window().add_event_listener_with_callback("popstate", on_history.as_ref().unchecked_ref());
        on_history.forget();
        let on_click = Closure::<dyn Fn(web_sys::MouseEvent)>::new(move |e| location.follow(&e));
        let _ = document().add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref());
        on_click.forget();
        location
    }

    pub fn get() -> Self {
        expect_context()
    }

    /// Goes to `to` (a path, with a query if any) within the app; `replace` keeps the current
    /// entry out of the history (a redirect).
    pub fn navigate(&self, to: &str, replace: bool) {
        let server_page = SERVER_PATHS.iter().any(|p| to.starts_with(p));
        let history = window().history().ok().filter(|_| !server_page);
        let Some(history) = history else {
            let _ = window().location().assign(to);
            return;
        };
        let _ = if replace {
            history.replace_state_with_url(&JsValue::NULL, "", Some(to))
        } else {
            history.push_state_with_url(&JsValue::NULL, "", Some(to))
        };
        self.sync();
        if !replace {
            window().scroll_to_with_x_and_y(0.0, 0.0);
        }
    }

    /// One query parameter, decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        web_sys::UrlSearchParams::new_with_str(&self.search.get_untracked())
            .ok()?
            .get(name)
    }

    /// Takes the address from the browser; unchanged parts do not render anything again.
    fn sync(&self) {
        let here = window().location();
        let (path, search) = (
            here.pathname().unwrap_or_default(),
            here.search().unwrap_or_default(),
        );
        // The query first: a page made for the new path reads it.
        if self.search.get_untracked() != search {
            self.search.set(search);
        }
        if self.path.get_untracked() != path {
            self.path.set(path);
        }
    }

    /// A plain click on a link to one of the app's own pages.
    fn follow(&self, e: &web_sys::MouseEvent) {
        if e.default_prevented()
            || e.button() != 0
            || e.meta_key()
            || e.ctrl_key()
            || e.shift_key()
            || e.alt_key()
        {
            return;
        }
        let Some(link) = e
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.closest("a[href]").ok().flatten())
            .and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok())
        else {
            return;
        };
        let path = link.pathname();
        let own = link.origin() == window().location().origin().unwrap_or_default()
            && matches!(link.protocol().as_str(), "http:" | "https:")
            && link.target().is_empty()
            && !link.has_attribute("download")
            && !SERVER_PATHS.iter().any(|p| path.starts_with(p));
        if own {
            e.prevent_default();
            self.navigate(&format!("{path}{}{}", link.search(), link.hash()), false);
        }
    }
}
