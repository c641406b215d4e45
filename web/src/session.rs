//! Who is signed in: the ID token the sign-in provider issued, kept in this tab's
//! sessionStorage (never localStorage: it goes with the tab) and dropped the moment it lapses,
//! so a page says "signed out" instead of failing request by request.

use std::time::Duration;

use leptos::prelude::*;

use crate::pkce;

const KEY: &str = "slsplay.session";
/// A token this close to its end is not sent: it could lapse on the way.
const MARGIN_MS: f64 = 30_000.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub token: String,
    pub email: Option<String>,
    pub name: Option<String>,
    expires_ms: f64,
}

impl Session {
    pub fn from_token(token: String) -> Option<Self> {
        let claims = pkce::payload(&token)?;
        let text = |key: &str| claims[key].as_str().map(str::to_owned);
        Some(Self {
            email: text("email"),
            name: text("name"),
            expires_ms: claims["exp"].as_f64()? * 1000.0,
            token,
        })
    }

    /// The name to greet with: the provider's name, else the email.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.email.clone())
            .unwrap_or_else(|| "you".into())
    }

    fn ms_left(&self) -> f64 {
        self.expires_ms - MARGIN_MS - js_sys::Date::now()
    }
}

/// The app's sign-in state, shared through the context.
#[derive(Clone, Copy)]
pub struct Auth {
    session: RwSignal<Option<Session>>,
    lapsed: RwSignal<bool>,
}

/// This tab's sessionStorage, where the session and a pending sign-in live.
pub fn storage() -> Option<web_sys::Storage> {
    window().session_storage().ok().flatten()
}

impl Auth {
    /// Restores this tab's session, if it is still good, for the whole app.
    pub fn provide() -> Self {
        let auth = Self {
            session: RwSignal::new(None),
            lapsed: RwSignal::new(false),
        };
        if let Some(session) = storage()
            .and_then(|s| s.get_item(KEY).ok().flatten())
            .and_then(Session::from_token)
        {
            auth.start(session);
        }
        provide_context(auth);
        auth
    }

    pub fn get() -> Self {
        expect_context()
    }

    pub fn session(&self) -> Option<Session> {
        self.session.get()
    }

    /// The token to send now, without subscribing the caller to changes.
    pub fn token(&self) -> Option<String> {
        self.session
            .with_untracked(|s| s.as_ref().filter(|s| s.ms_left() > 0.0).map(|s| s.token.clone()))
    }

    /// True after a session ended by itself (not by signing out), to say so.
    pub fn lapsed(&self) -> bool {
        self.lapsed.get()
    }

    pub fn signed_in(&self, token: String) -> bool {
        let Some(session) = Session::from_token(token) else {
            return false;
        };
        if let Some(s) = storage() {
            let _ = s.set_item(KEY, &session.token);
        }
        self.start(session)
    }

    fn start(&self, session: Session) -> bool {
        let left = session.ms_left();
        if left <= 0.0 {
            self.end(true);
            return false;
        }
        let token = session.token.clone();
        self.session.set(Some(session));
        self.lapsed.set(false);
        let auth = *self;
        // A later sign-in replaces this session; its own timer ends that one.
        set_timeout(
            move || {
                if auth.token_is(&token) {
                    auth.end(true);
                }
            },
            Duration::from_millis(left as u64),
        );
        true
    }

    fn token_is(&self, token: &str) -> bool {
        self.session
            .with_untracked(|s| s.as_ref().is_some_and(|s| s.token == token))
    }

    pub fn sign_out(&self) {
        self.end(false);
    }

    /// The API refused the token (it lapsed, or the provider's keys changed).
    pub fn lapse(&self) {
        self.end(true);
    }

    fn end(&self, lapsed: bool) {
        if let Some(s) = storage() {
            let _ = s.remove_item(KEY);
        }
        self.session.set(None);
        self.lapsed.set(lapsed);
    }
}
