//! Signing in: OpenID Connect authorization code + PKCE against the issuer `/config.json` names
//! (the development provider locally, Cognito's hosted UI on AWS), one button per social
//! provider, and back to the page that asked.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};

use crate::pkce;
use crate::router::Location;
use crate::session::Auth;

/// What an authorization request left for its callback, in this tab only.
const PENDING: &str = "slsplay.sign-in";
const CALLBACK: &str = "/signin/callback";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppConfig {
    sign_in: SignInConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignInConfig {
    issuer: String,
    client_id: String,
    providers: Vec<Provider>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Provider {
    label: String,
    identity_provider: String,
}

#[derive(Debug, Deserialize)]
struct Discovery {
    authorization_endpoint: String,
    token_endpoint: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    state: String,
    verifier: String,
    /// Must come back inside the ID token: a token minted for another sign-in is refused.
    nonce: String,
    return_to: String,
    token_endpoint: String,
    client_id: String,
    redirect_uri: String,
}

/// The ID token names the person (email, name), which the API links invitations by.
#[derive(Debug, Deserialize)]
struct Tokens {
    id_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TokenError {
    error: String,
    error_description: Option<String>,
}

async fn get_json<T: for<'de> Deserialize<'de>>(url: &str) -> Result<T, String> {
    let response = gloo_net::http::Request::get(url)
        .send()
        .await
        .map_err(|_| "the sign-in service cannot be reached; check your connection".to_owned())?;
    if !response.ok() {
        return Err(format!("the sign-in service answered {}", response.status()));
    }
    response.json().await.map_err(|e| e.to_string())
}

async fn config() -> Result<SignInConfig, String> {
    Ok(get_json::<AppConfig>("/config.json").await?.sign_in)
}

fn encode(value: &str) -> String {
    js_sys::encode_uri_component(value).into()
}

fn storage() -> Result<web_sys::Storage, String> {
    crate::session::storage()
        .ok_or_else(|| "this browser keeps no session storage, which signing in needs".to_owned())
}

/// Sends the browser to the provider; the callback comes back to `return_to`.
async fn start(config: SignInConfig, provider: Provider, return_to: String) -> Result<(), String> {
    let discovery: Discovery = get_json(&format!(
        "{}/.well-known/openid-configuration",
        config.issuer.trim_end_matches('/')
    ))
    .await?;
    let origin = window().location().origin().map_err(|_| "no origin".to_owned())?;
    let pending = Pending {
        state: pkce::random()?,
        verifier: pkce::random()?,
        nonce: pkce::random()?,
        return_to: pkce::safe_return(&return_to).to_owned(),
        token_endpoint: discovery.token_endpoint,
        client_id: config.client_id,
        redirect_uri: format!("{origin}{CALLBACK}"),
    };
    let url = format!(
        "{}?response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&nonce={}\
         &code_challenge={}&code_challenge_method=S256&identity_provider={}",
        discovery.authorization_endpoint,
        encode(&pending.client_id),
        encode(&pending.redirect_uri),
        encode("openid email profile"),
        encode(&pending.state),
        encode(&pending.nonce),
        pkce::challenge(&pending.verifier),
        encode(&provider.identity_provider),
    );
    let saved = serde_json::to_string(&pending).map_err(|e| e.to_string())?;
    storage()?
        .set_item(PENDING, &saved)
        .map_err(|_| "this browser refused to keep the sign-in's state".to_owned())?;
    window()
        .location()
        .assign(&url)
        .map_err(|_| "the browser refused to open the sign-in page".to_owned())
}

/// One button per provider; signing in comes back to `return_to`.
#[component]
pub fn SignInButtons(#[prop(into)] return_to: String) -> impl IntoView {
    let config = LocalResource::new(config);
    let failed = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let return_to = StoredValue::new(return_to);
    view! {
        <Transition fallback=|| view! { <p class="status" role="status">"Loading sign-in…"</p> }>
            {move || config.get().map(|loaded| match loaded {
                Ok(config) => {
                    let buttons = config.providers.clone().into_iter().map(|provider| {
                        let config = config.clone();
                        let label = format!("Continue with {}", provider.label);
                        view! {
                            <button
                                class="provider"
                                disabled=move || busy.get()
                                on:click=move |_| {
                                    let (config, provider) = (config.clone(), provider.clone());
                                    busy.set(true);
                                    spawn_local(async move {
                                        if let Err(why) = start(config, provider, return_to.get_value()).await {
                                            failed.set(Some(why));
                                            busy.set(false);
                                        }
                                    });
                                }
                            >{label}</button>
                        }
                    }).collect_view();
                    view! { <div class="providers">{buttons}</div> }.into_any()
                }
                Err(why) => view! { <p class="error" role="alert">{why}</p> }.into_any(),
            })}
            {move || failed.get().map(|why| view! { <p class="error" role="alert">{why}</p> })}
        </Transition>
    }
}

/// What a page for signed-in people shows to someone who is not: sign in, and come back here.
#[component]
pub fn SignInPrompt(heading: &'static str, hint: &'static str) -> impl IntoView {
    let location = Location::get();
    let here = format!(
        "{}{}",
        location.path.get_untracked(),
        location.search.get_untracked()
    );
    let here = if here.starts_with(CALLBACK) {
        "/my/events".to_owned()
    } else {
        here
    };
    let auth = Auth::get();
    view! {
        <section class="sign-in">
            <h1>{heading}</h1>
            {move || auth.lapsed().then(|| view! {
                <p class="notice" role="status">"You were signed out because your sign-in ended. Sign in again to go on."</p>
            })}
            <p class="muted">{hint}</p>
            <SignInButtons return_to=here/>
        </section>
    }
}

/// Shows `children` to signed-in people, the sign-in to everyone else.
#[component]
pub fn RequireSignIn(
    #[prop(default = "Sign in to organize your events")] heading: &'static str,
    #[prop(default = "Use the account you want your guests to see as the organizer.")] hint: &'static str,
    children: ChildrenFn,
) -> impl IntoView {
    let auth = Auth::get();
    move || {
        if auth.session().is_some() {
            children().into_any()
        } else {
            view! { <SignInPrompt heading hint/> }.into_any()
        }
    }
}

/// `/signin?return=/path`: the sign-in page a header link opens.
#[component]
pub fn SignInPage() -> impl IntoView {
    let location = Location::get();
    let return_to = location.query("return").unwrap_or_else(|| "/my/events".into());
    let auth = Auth::get();
    let target = pkce::safe_return(&return_to).to_owned();
    Effect::new(move |_| {
        if auth.session().is_some() {
            location.navigate(&target, true);
        }
    });
    view! {
        <section class="sign-in">
            <h1>"Sign in"</h1>
            <p class="muted">"Organizers sign in to create events and invite guests. Guests need no account: their personal link opens their invitation, and signing in with the address it went to keeps it in their account."</p>
            <SignInButtons return_to/>
        </section>
    }
}

async fn exchange(code: String, state: String) -> Result<(String, String), String> {
    let store = storage()?;
    let saved = store.get_item(PENDING).ok().flatten();
    // One callback per authorization request, even a failed one.
    let _ = store.remove_item(PENDING);
    let pending: Pending = saved
        .and_then(|s| serde_json::from_str(&s).ok())
        .ok_or_else(|| "this sign-in was not started in this tab, or it was already used".to_owned())?;
    if pending.state != state {
        return Err("this sign-in answer belongs to another request; start again".into());
    }
    let body = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&client_id={}&code_verifier={}",
        encode(&code),
        encode(&pending.redirect_uri),
        encode(&pending.client_id),
        encode(&pending.verifier),
    );
    let response = gloo_net::http::Request::post(&pending.token_endpoint)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .map_err(|e| e.to_string())?
        .send()
        .await
        .map_err(|_| "the sign-in service cannot be reached; check your connection".to_owned())?;
    if !response.ok() {
        let why = response
            .json::<TokenError>()
            .await
            .map(|e| e.error_description.unwrap_or(e.error))
            .unwrap_or_else(|_| format!("the sign-in service answered {}", response.status()));
        return Err(format!("signing in failed: {why}"));
    }
    let tokens: Tokens = response.json().await.map_err(|e| e.to_string())?;
    let Some(token) = tokens.id_token else {
        return Err("the sign-in service sent no ID token".into());
    };
    let nonce = pkce::payload(&token).and_then(|claims| claims["nonce"].as_str().map(str::to_owned));
    if nonce.as_deref() != Some(pending.nonce.as_str()) {
        return Err("the sign-in service sent a token of another sign-in; start again".into());
    }
    Ok((token, pending.return_to))
}

/// `/signin/callback?code&state`: where the provider sends the browser back.
#[component]
pub fn Callback() -> impl IntoView {
    let location = Location::get();
    let (code, state, refused) = (
        location.query("code"),
        location.query("state"),
        location.query("error"),
    );
    let auth = Auth::get();
    let failed = RwSignal::new(None::<String>);
    match (code, state, refused) {
        (Some(code), Some(state), None) => spawn_local(async move {
            match exchange(code, state).await {
                Ok((token, return_to)) => {
                    if auth.signed_in(token) {
                        location.navigate(&return_to, true)
                    } else {
                        failed.set(Some(
                            "the sign-in service sent a token that has already lapsed".into(),
                        ))
                    }
                }
                Err(why) => failed.set(Some(why)),
            }
        }),
        (_, _, Some(refused)) => failed.set(Some(format!("the sign-in was not completed ({refused})"))),
        _ => failed.set(Some("this address is only for coming back from a sign-in".into())),
    }
    view! {
        {move || match failed.get() {
            None => view! { <p class="status" role="status">"Signing you in…"</p> }.into_any(),
            Some(why) => view! {
                <section class="sign-in">
                    <h1>"Signing in did not work"</h1>
                    <p class="error" role="alert">{why}</p>
                    <SignInButtons return_to="/my/events"/>
                </section>
            }.into_any(),
        }}
    }
}
