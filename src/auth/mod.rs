//! Signing in with OpenID Connect when config.json has an `auth` section: the authorization
//! code flow with PKCE (S256), state and nonce checked, no client secret. Tokens live in this
//! module's memory only (never in local or session storage: a reload signs in again, silently
//! while the provider's own session lasts); what must survive the trip to the provider (state,
//! nonce, the PKCE verifier, where to come back to) waits in session storage and is removed on
//! the way back. The access token is renewed with the refresh token a quarter of its life
//! before it ends, one renewal at a time (providers rotate refresh tokens, and two renewals
//! with the same one would end the session), and goes as a bearer to every functions call
//! ([`bearer`]) and to negotiate.
//!
//! Without an `auth` section nothing here runs and [`bearer`] gives no token.

pub mod flow;

use std::cell::RefCell;

use flow::{Callback, Discovery, IdClaims, Pending, TokenAnswer};
use js_sys::Promise;
use leptos::prelude::Set;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::config::AuthConfig;
use crate::store::Store;

/// Session storage key of the request on its way to the provider.
const PENDING_KEY: &str = "dashboard.signIn";

/// How the page's sign-in stands.
#[derive(Default)]
struct Session {
    setup: Option<Setup>,
    tokens: Option<Tokens>,
    /// The renewal under way, which every caller needing a token waits for.
    renewing: Option<Promise>,
    /// Renewals done since the page opened (the tests read them through the probe).
    renewals: u32,
    timer: Option<i32>,
    store: Option<Store>,
    /// Renewals failed in a row for now (the provider or the network away): the next waits longer.
    failures: u32,
    /// Whether config.json asks for a sign-in.
    configured: bool,
    /// Whether the banner shows a renewal problem (which a renewal then clears; other problems
    /// it leaves alone).
    renewal_said: bool,
}

struct Setup {
    config: AuthConfig,
    discovery: Discovery,
    redirect_uri: String,
}

struct Tokens {
    access: String,
    refresh: Option<String>,
    id_token: Option<String>,
    /// Page time (ms since the epoch) the access token ends.
    expires_at: f64,
    /// When it was received.
    received_at: f64,
    claims: IdClaims,
}

thread_local! {
    static SESSION: RefCell<Session> = RefCell::default();
}

/// Who signed in, as the ID token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub subject: String,
    pub name: String,
}

/// Where [`sign_in`] left the page.
pub enum SignIn {
    /// Tokens in hand: go on.
    Done(SignedIn),
    /// The page is on its way to the provider.
    Leaving,
}

fn now() -> f64 {
    js_sys::Date::now()
}

/// Signs the page in: finishes a sign-in the provider sent the browser back from, or leaves
/// for the provider. An error says why in words (and the page offers to try again).
pub async fn sign_in(config: &AuthConfig, store: Store) -> Result<SignIn, String> {
    SESSION.with_borrow_mut(|s| {
        s.store = Some(store);
        s.configured = true;
    });
    install_probe();
    let discovery = discover(&config.authority).await?;
    let window = web_sys::window().ok_or("no window")?;
    let location = window.location();
    let redirect_uri = config.redirect_uri.clone().unwrap_or_else(|| {
        format!("{}{}", location.origin().unwrap_or_default(), location.pathname().unwrap_or_default())
    });
    SESSION.with_borrow_mut(|s| {
        s.setup =
            Some(Setup { config: config.clone(), discovery: discovery.clone(), redirect_uri: redirect_uri.clone() });
    });
    let search = location.search().unwrap_or_default();
    let params = web_sys::UrlSearchParams::new_with_str(&search).map_err(|_| "unreadable page address")?;
    let pairs: Vec<(String, String)> = ["code", "state", "error", "error_description"]
        .iter()
        .filter_map(|k| Some((k.to_string(), params.get(k)?)))
        .collect();
    let callback = Callback::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let pending = take_pending();
    match (callback, pending) {
        (Some(callback), Some(pending)) => {
            // Whatever happens next, the answer leaves the address bar (a code is used once).
            let _ =
                window.history().and_then(|h| h.replace_state_with_url(&JsValue::NULL, "", Some(&pending.return_to)));
            if callback.state() != pending.state {
                return Err(
                    "the provider's answer does not belong to this page's sign-in (state differs): refused".into()
                );
            }
            match callback {
                Callback::Refused { error, description, .. } => Err(format!(
                    "the provider refused the sign-in: {error}{}",
                    if description.is_empty() { String::new() } else { format!(": {description}") }
                )),
                Callback::Code { code, .. } => {
                    let answer = exchange(
                        &discovery.token_endpoint,
                        &[
                            ("grant_type", "authorization_code"),
                            ("code", &code),
                            ("redirect_uri", &redirect_uri),
                            ("client_id", &config.client_id),
                            ("code_verifier", &pending.verifier),
                        ],
                    )
                    .await?;
                    let id_token = answer.id_token.clone().ok_or("the provider sent no ID token")?;
                    let claims = IdClaims::read(&id_token)?;
                    claims.check(&discovery.issuer, &config.client_id, &pending.nonce, (now() / 1000.0) as i64)?;
                    let who = SignedIn { subject: claims.sub.clone(), name: claims.display_name().to_string() };
                    keep(answer, Some(claims));
                    Ok(SignIn::Done(who))
                }
            }
        }
        // A request of ours waiting with no answer: the user came back from the provider's
        // page (the back button) or reloaded on the way. Leaving again at once would send the
        // back button round in a circle: the page offers to sign in instead.
        (None, Some(_)) => Err("the sign-in was left before it finished".into()),
        // An answer with no request of ours waiting (a stale tab, a forged link), or a first
        // visit: start afresh.
        (_, None) => {
            leave_for_provider().await?;
            Ok(SignIn::Leaving)
        }
    }
}

/// Starts a sign-in: a new state, nonce and PKCE verifier kept for the way back, then off to
/// the provider. The page's address now (path, query, fragment) is where it comes back to.
pub async fn leave_for_provider() -> Result<(), String> {
    let (endpoint, client_id, redirect_uri, scope) = SESSION
        .with_borrow(|s| {
            s.setup.as_ref().map(|setup| {
                (
                    setup.discovery.authorization_endpoint.clone(),
                    setup.config.client_id.clone(),
                    setup.redirect_uri.clone(),
                    setup.config.scope.clone(),
                )
            })
        })
        .ok_or("sign-in is not configured")?;
    let window = web_sys::window().ok_or("no window")?;
    let location = window.location();
    // The page's own query, without a provider's answer an earlier trip left there.
    let search = web_sys::UrlSearchParams::new_with_str(&location.search().unwrap_or_default())
        .map(|params| {
            for key in ["code", "state", "error", "error_description", "error_uri", "session_state", "iss"] {
                params.delete(key);
            }
            String::from(params.to_string())
        })
        .unwrap_or_default();
    let return_to = format!(
        "{}{}{search}{}",
        location.pathname().unwrap_or_default(),
        if search.is_empty() { "" } else { "?" },
        location.hash().unwrap_or_default()
    );
    let verifier = flow::base64url(&random(32)?);
    let pending =
        Pending { state: flow::base64url(&random(16)?), nonce: flow::base64url(&random(16)?), verifier, return_to };
    let challenge = flow::base64url(&sha256(pending.verifier.as_bytes()).await?);
    let storage = window.session_storage().ok().flatten().ok_or("this browser keeps no session storage")?;
    let text = serde_json::to_string(&pending).map_err(|e| e.to_string())?;
    storage.set_item(PENDING_KEY, &text).map_err(|_| "cannot keep the sign-in request in session storage")?;
    let url = flow::authorize_url(&endpoint, &client_id, &redirect_uri, &scope, &pending, &challenge);
    location.assign(&url).map_err(|_| "cannot go to the provider".to_string())
}

/// The request waiting for the provider's answer, removed as it is read.
fn take_pending() -> Option<Pending> {
    let storage = web_sys::window()?.session_storage().ok().flatten()?;
    let text = storage.get_item(PENDING_KEY).ok().flatten()?;
    let _ = storage.remove_item(PENDING_KEY);
    serde_json::from_str(&text).ok()
}

async fn discover(authority: &str) -> Result<Discovery, String> {
    let url = format!("{authority}/.well-known/openid-configuration");
    let response = gloo_net::http::Request::get(&url)
        .send()
        .await
        .map_err(|e| format!("the sign-in provider {authority} cannot be reached: {e}"))?;
    if !response.ok() {
        return Err(format!("the sign-in provider's discovery document answered HTTP {}", response.status()));
    }
    Discovery::parse(&response.text().await.map_err(|e| e.to_string())?, authority)
}

/// POSTs a form to the token endpoint.
async fn exchange(endpoint: &str, pairs: &[(&str, &str)]) -> Result<TokenAnswer, Refusal> {
    let request = gloo_net::http::Request::post(endpoint)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "application/json")
        .body(flow::form(pairs))
        .map_err(|e| Refusal::Again(e.to_string()))?;
    let response =
        request.send().await.map_err(|e| Refusal::Again(format!("the token endpoint cannot be reached: {e}")))?;
    let text = response.text().await.unwrap_or_default();
    match response.status() {
        200..=299 => TokenAnswer::parse(&text).map_err(Refusal::Final),
        status @ 400..=499 => Err(Refusal::Final(format!(
            "the provider refused the token request (HTTP {status}): {}",
            provider_error(&text)
        ))),
        status => Err(Refusal::Again(format!("the token endpoint answered HTTP {status}"))),
    }
}

/// Why a token request failed: for good (the grant is over) or for now (try again).
enum Refusal {
    Final(String),
    Again(String),
}

impl From<Refusal> for String {
    fn from(refusal: Refusal) -> String {
        match refusal {
            Refusal::Final(m) | Refusal::Again(m) => m,
        }
    }
}

/// An OAuth error answer in words (`error: error_description`), or its text.
fn provider_error(text: &str) -> String {
    #[derive(serde::Deserialize)]
    struct OAuthError {
        error: String,
        #[serde(default)]
        error_description: String,
    }
    match serde_json::from_str::<OAuthError>(text) {
        Ok(e) if e.error_description.is_empty() => e.error,
        Ok(e) => format!("{}: {}", e.error, e.error_description),
        Err(_) => text.chars().take(200).collect(),
    }
}

/// Keeps a token answer (a renewal keeps the claims it had) and schedules the next renewal.
fn keep(answer: TokenAnswer, claims: Option<IdClaims>) {
    let received_at = now();
    let lifetime_ms = answer.expires_in.unwrap_or(flow::DEFAULT_LIFETIME_S) as f64 * 1000.0;
    SESSION.with_borrow_mut(|s| {
        let old = s.tokens.take();
        let Some(claims) = claims.or_else(|| old.as_ref().map(|t| t.claims.clone())) else { return };
        s.tokens = Some(Tokens {
            access: answer.access_token,
            // A provider that does not rotate sends none: the one held stays good.
            refresh: answer.refresh_token.or_else(|| old.as_ref().and_then(|t| t.refresh.clone())),
            id_token: answer.id_token.or_else(|| old.and_then(|t| t.id_token)),
            expires_at: received_at + lifetime_ms,
            received_at,
            claims,
        });
    });
    schedule(flow::renew_at(received_at, lifetime_ms) - received_at);
}

fn schedule(after_ms: f64) {
    let Some(window) = web_sys::window() else { return };
    let renew = Closure::once_into_js(|| {
        leptos::task::spawn_local(async {
            if let Err(error) = renew().await {
                leptos::logging::warn!("sign-in: renewal failed: {error}");
            }
        });
    });
    let handle = window
        .set_timeout_with_callback_and_timeout_and_arguments_0(renew.unchecked_ref(), after_ms.max(0.0) as i32)
        .ok();
    SESSION.with_borrow_mut(|s| {
        if let Some(old) = std::mem::replace(&mut s.timer, handle) {
            window.clear_timeout_with_handle(old);
        }
    });
}

/// Renews the access token with the refresh token; callers at the same time wait for the
/// same renewal. A refusal ends the session: the page signs in again.
async fn renew() -> Result<(), String> {
    let promise = SESSION.with_borrow_mut(|s| {
        s.renewing
            .get_or_insert_with(|| {
                wasm_bindgen_futures::future_to_promise(async {
                    let result = renew_once().await;
                    SESSION.with_borrow_mut(|s| s.renewing = None);
                    result.map(|()| JsValue::TRUE).map_err(|e| JsValue::from_str(&e))
                })
            })
            .clone()
    });
    JsFuture::from(promise).await.map(drop).map_err(|e| e.as_string().unwrap_or_default())
}

async fn renew_once() -> Result<(), String> {
    let (endpoint, client_id, refresh, expires_at) = SESSION
        .with_borrow(|s| {
            let setup = s.setup.as_ref()?;
            let tokens = s.tokens.as_ref()?;
            Some((
                setup.discovery.token_endpoint.clone(),
                setup.config.client_id.clone(),
                tokens.refresh.clone(),
                tokens.expires_at,
            ))
        })
        .ok_or("not signed in")?;
    let Some(refresh) = refresh else {
        // No refresh token (the provider gave none): sign in again before the token ends.
        renewal_problem(Some("the sign-in provider gave no refresh token: signing in again".into()));
        leave_for_provider().await?;
        return Err("no refresh token".into());
    };
    let pairs =
        [("grant_type", "refresh_token"), ("refresh_token", refresh.as_str()), ("client_id", client_id.as_str())];
    match exchange(&endpoint, &pairs).await {
        Ok(answer) => {
            SESSION.with_borrow_mut(|s| {
                s.renewals += 1;
                s.failures = 0;
            });
            keep(answer, None);
            renewal_problem(None);
            Ok(())
        }
        Err(Refusal::Again(error)) => {
            // The provider or the network is away for now (a machine just woke, an outage):
            // try again, each time a little later, for as long as it takes. Leaving for the
            // provider now would strand a wall screen on the browser's error page.
            let failures = SESSION.with_borrow_mut(|s| {
                s.failures += 1;
                s.failures
            });
            schedule((5_000.0 * 2f64.powi(failures as i32 - 1)).min(60_000.0));
            if now() >= expires_at {
                renewal_problem(Some(format!("the sign-in could not be renewed ({error}): trying again")));
            }
            Err(error)
        }
        Err(refusal) => {
            // The provider refused (the refresh token expired or was revoked): sign in again.
            let error = String::from(refusal);
            SESSION.with_borrow_mut(|s| s.tokens = None);
            renewal_problem(Some(format!("your session ended ({error}): signing in again")));
            leave_for_provider().await?;
            Err(error)
        }
    }
}

/// The access token for a functions call: `None` without sign-in; renewed first when it has
/// ended (a machine that slept through its renewal).
pub async fn bearer() -> Result<Option<String>, String> {
    let current = SESSION.with_borrow(|s| {
        s.setup.as_ref()?;
        Some(s.tokens.as_ref().map(|t| (t.access.clone(), t.expires_at)))
    });
    match current {
        None => Ok(None),
        Some(None) => Err("not signed in".into()),
        Some(Some((token, expires_at))) if now() < expires_at - 5_000.0 => Ok(Some(token)),
        Some(Some(_)) => {
            renew().await?;
            SESSION
                .with_borrow(|s| s.tokens.as_ref().map(|t| Some(t.access.clone())))
                .ok_or_else(|| "not signed in".into())
        }
    }
}

/// A functions call was answered 401: the token was refused. Renewed once if it is not
/// fresh; a fresh token refused means the functions do not take this provider's tokens for
/// them (a wrong scope or audience), said in words rather than sending the user round in
/// circles.
pub fn refused(reason: String) {
    let fresh = SESSION.with_borrow(|s| s.tokens.as_ref().map(|t| now() - t.received_at < 30_000.0));
    match fresh {
        // Not signed in at all (no `auth` section): the functions want a sign-in this page
        // is not configured for.
        None if !configured() => problem(Some(format!(
            "the functions require a sign-in ({reason}), and config.json has no `auth` section to sign in with"
        ))),
        Some(true) => problem(Some(format!(
            "the functions refused the token the sign-in provider just issued: {reason} (is `auth.scope` the API's?)"
        ))),
        _ => leptos::task::spawn_local(async {
            let _ = renew().await;
        }),
    }
}

/// Signs out: the tokens are forgotten and the provider ends its session (then sends the
/// browser back here, where a new sign-in starts).
pub fn sign_out() {
    let (tokens, setup) = SESSION.with_borrow_mut(|s| {
        (
            s.tokens.take(),
            s.setup.as_ref().map(|x| {
                (x.discovery.end_session_endpoint.clone(), x.config.client_id.clone(), x.redirect_uri.clone())
            }),
        )
    });
    let Some(window) = web_sys::window() else { return };
    match setup {
        Some((Some(endpoint), client_id, redirect_uri)) => {
            let mut pairs =
                vec![("client_id", client_id.as_str()), ("post_logout_redirect_uri", redirect_uri.as_str())];
            let hint = tokens.and_then(|t| t.id_token);
            if let Some(hint) = &hint {
                pairs.push(("id_token_hint", hint));
            }
            let joiner = if endpoint.contains('?') { '&' } else { '?' };
            let _ = window.location().assign(&format!("{endpoint}{joiner}{}", flow::form(&pairs)));
        }
        _ => {
            let _ = window.location().reload();
        }
    }
}

/// Tells the page about a sign-in problem (or that it is over).
fn problem(text: Option<String>) {
    SESSION.with_borrow_mut(|s| s.renewal_said = false);
    if let Some(store) = SESSION.with_borrow(|s| s.store) {
        store.auth_problem.set(text);
    }
}

/// A renewal's problem, or that it is over: clears only a problem a renewal said.
fn renewal_problem(text: Option<String>) {
    let (store, said) = SESSION.with_borrow(|s| (s.store, s.renewal_said));
    let Some(store) = store else { return };
    match text {
        Some(text) => {
            store.auth_problem.set(Some(text));
            SESSION.with_borrow_mut(|s| s.renewal_said = true);
        }
        None if said => {
            store.auth_problem.set(None);
            SESSION.with_borrow_mut(|s| s.renewal_said = false);
        }
        None => {}
    }
}

/// *Sign in again*: off to the provider, or, when the page could not even reach it to learn
/// where to go (its discovery failed), a fresh start.
pub async fn sign_in_again() {
    if SESSION.with_borrow(|s| s.setup.is_none()) {
        if let Some(window) = web_sys::window() {
            let _ = window.location().reload();
        }
        return;
    }
    if let Err(error) = leave_for_provider().await {
        problem(Some(format!("cannot sign in: {error}")));
    }
}

/// Whether the page signs in at all (config.json has `auth`).
pub fn configured() -> bool {
    SESSION.with_borrow(|s| s.configured)
}

/// Where sign-in problems are shown, also for a page that does not sign in (a functions side
/// that wants a sign-in is said there).
pub fn attach(store: Store) {
    SESSION.with_borrow_mut(|s| s.store = Some(store));
}

fn crypto() -> Result<web_sys::Crypto, String> {
    web_sys::window().and_then(|w| w.crypto().ok()).ok_or_else(|| "this browser has no Web Crypto".to_string())
}

fn random(len: usize) -> Result<Vec<u8>, String> {
    let mut bytes = vec![0u8; len];
    crypto()?.get_random_values_with_u8_array(&mut bytes).map_err(|_| "no random numbers from Web Crypto")?;
    Ok(bytes)
}

async fn sha256(data: &[u8]) -> Result<Vec<u8>, String> {
    // Web Crypto's digest needs a secure context: https, or a loopback address.
    let subtle = crypto()?.subtle();
    let promise = subtle
        .digest_with_str_and_u8_array("SHA-256", data)
        .map_err(|_| "Web Crypto cannot hash here (the page must be served over https)")?;
    let digest = JsFuture::from(promise).await.map_err(|_| "Web Crypto's SHA-256 failed")?;
    Ok(js_sys::Uint8Array::new(&digest).to_vec())
}

/// `window.dashboardAuth()`: renewals so far and when the token ends (for the tests; no token
/// is ever exposed).
fn install_probe() {
    let probe = Closure::<dyn Fn() -> JsValue>::new(|| {
        let object = js_sys::Object::new();
        SESSION.with_borrow(|s| {
            let set = |key: &str, value: JsValue| {
                let _ = js_sys::Reflect::set(&object, &key.into(), &value);
            };
            set("renewals", s.renewals.into());
            set("signedIn", s.tokens.is_some().into());
            set("expiresAt", s.tokens.as_ref().map_or(JsValue::NULL, |t| t.expires_at.into()));
        });
        object.into()
    });
    if let Some(window) = web_sys::window() {
        let _ = js_sys::Reflect::set(&window, &"dashboardAuth".into(), probe.as_ref());
    }
    probe.forget();
}
