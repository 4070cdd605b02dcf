//! Sign-in for the functions API (`--oidc-issuer`, `--oidc-audience`): every functions route
//! then takes only requests with a bearer token the issuer signed (its published keys,
//! [`keys`]; RS256 or ES256 only, [`token`]), for the audience, within its lifetime (`exp`,
//! `nbf`, with `--oidc-leeway-seconds`), and decides by the user's roles and sites
//! ([`access`]) what they see and may do. In production this is App Service Authentication
//! (Easy Auth) validating bearer tokens in front of the Function App, or the same checks in the
//! functions' code.
//!
//! [`require`] runs in front of the functions routes (inside CORS, so preflights are still
//! answered without a token) and puts the [`Caller`] into the request; handlers take it as an
//! extractor. Without the flags every caller is [`Caller::Open`] and nothing changes.
//!
//! Refusals: 401 for no token or a token that is not good (JSON `{error, status}` and
//! `WWW-Authenticate: Bearer ...` with the reason), 403 for a good token that does not allow
//! what was asked (no role, another site, a viewer acting), 503 with `Retry-After` while the
//! issuer's keys cannot be fetched (the token may be good: nobody can tell yet).

pub mod access;
pub mod keys;
pub mod token;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;
use telemetry::auth::Identity;

use crate::auth::access::{Access, Role, Sites};
use crate::auth::keys::{KeyError, KeySettings, Keys};
use crate::auth::token::ClaimNames;
use crate::error::ApiError;
use crate::AppState;

/// Seconds a 503 asks the caller to wait before trying again.
const RETRY_AFTER_SECONDS: u32 = 10;

/// What the sign-in flags ask for, checked.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// The OpenID provider, exactly as its tokens' `iss` names it.
    pub issuer: String,
    /// The `aud` tokens must carry (the API's application id URI or client id).
    pub audience: String,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// The claims roles, sites and the name are read from.
    pub claims: ClaimNames,
    /// The `--access` file, if one was given.
    pub access: Option<Access>,
    /// The issuer's keys are fetched again at most this often.
    pub min_refetch: Duration,
}

impl AuthSettings {
    /// `issuer` and `audience`, with the defaults for the rest.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: Duration::from_secs(30),
            claims: ClaimNames::default(),
            access: None,
            min_refetch: Duration::from_secs(10),
        }
    }
}

/// The token check: the settings and the issuer's keys.
pub struct Auth {
    pub settings: AuthSettings,
    keys: Keys,
}

/// A signed-in user, as their token and the access file make them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The token's `sub`: also their SignalR user id.
    pub id: String,
    /// Who their acknowledgements and shelves are recorded under.
    pub name: String,
    pub roles: BTreeSet<Role>,
    pub sites: Sites,
}

/// Who is calling a functions route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An open deployment (no sign-in): anyone may read every site and act under any name.
    Open,
    /// A signed-in user.
    User(Arc<User>),
}

impl Caller {
    /// Whether the caller may see `site`.
    pub fn sees(&self, site: &str) -> bool {
        match self {
            Caller::Open => true,
            Caller::User(user) => user.sites.contains(site),
        }
    }

    /// Whether the caller sees only some sites (what they are sent must then be filtered).
    pub fn is_restricted(&self) -> bool {
        matches!(self, Caller::User(user) if user.sites != Sites::All)
    }

    /// The signed-in user, if any.
    pub fn user(&self) -> Option<&User> {
        match self {
            Caller::Open => None,
            Caller::User(user) => Some(user),
        }
    }

    /// What `GET /api/me` answers.
    pub fn identity(&self) -> Identity {
        let Caller::User(user) = self else { return Identity::open() };
        Identity {
            signed_in: true,
            user_id: Some(user.id.clone()),
            name: Some(user.name.clone()),
            roles: user.roles.iter().map(|r| r.as_str().to_string()).collect(),
            sites: match &user.sites {
                Sites::All => None,
                Sites::Only(sites) => Some(sites.iter().cloned().collect()),
            },
            may_operate: user.roles.contains(&Role::Operator),
        }
    }

    /// 403 unless the caller may act (`doing`: "acknowledge", "shelve", ...).
    pub fn require_operator(&self, doing: &str) -> Result<(), ApiError> {
        match self {
            Caller::User(user) if !user.roles.contains(&Role::Operator) => {
                Err(ApiError::forbidden(format!("a viewer may not {doing}: the operator role is needed")))
            }
            _ => Ok(()),
        }
    }

    /// 403 unless the caller sees `site`.
    pub fn require_site(&self, site: &str) -> Result<(), ApiError> {
        match self.sees(site) {
            true => Ok(()),
            false => Err(ApiError::forbidden(format!("site {site:?} is not among yours"))),
        }
    }

    /// 403 unless the caller sees the site of `device` (`None`: unknown, which only a caller
    /// who sees every site may name: it cannot be placed at one of theirs).
    pub fn require_device(&self, device: &str, site: Option<&str>) -> Result<(), ApiError> {
        match site {
            Some(site) if self.sees(site) => Ok(()),
            Some(site) => Err(ApiError::forbidden(format!("device {device:?} is at site {site:?}, not among yours"))),
            None if self.is_restricted() => {
                Err(ApiError::forbidden(format!("device {device:?} is not known at any site of yours")))
            }
            None => Ok(()),
        }
    }

    /// The name an action is recorded under: the signed-in user's, else what the body says.
    pub fn name_or<'a>(&'a self, given: &'a str) -> &'a str {
        match self {
            Caller::Open => given,
            Caller::User(user) => &user.name,
        }
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        if state.auth.is_none() {
            return Ok(Caller::Open);
        }
        // With sign-in on, a handler reached without `require` in front is a wiring mistake:
        // refuse rather than serve it open.
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the token check did not run for this route")
        })
    }
}

/// Why a request was refused before its handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 401: no token (`error: None`, the challenge names the realm only), or a bad one.
    Unauthorized { reason: String, error: Option<&'static str> },
    /// 403: a good token that grants nothing here.
    Forbidden(String),
    /// 503: the issuer's keys cannot be had.
    Unavailable(String),
}

impl Refusal {
    fn invalid(reason: impl Into<String>) -> Self {
        Refusal::Unauthorized { reason: reason.into(), error: Some("invalid_token") }
    }

    /// The reason given.
    pub fn reason(&self) -> &str {
        match self {
            Refusal::Unauthorized { reason, .. } | Refusal::Forbidden(reason) | Refusal::Unavailable(reason) => reason,
        }
    }

    /// The answer, for the API's `realm`.
    fn respond(self, realm: &str) -> Response {
        let quoted = |text: &str| text.replace(['"', '\\'], "'");
        match self {
            Refusal::Unauthorized { reason, error } => {
                let challenge = match error {
                    None => format!("Bearer realm=\"{}\"", quoted(realm)),
                    Some(error) => format!(
                        "Bearer realm=\"{}\", error=\"{error}\", error_description=\"{}\"",
                        quoted(realm),
                        quoted(&reason)
                    ),
                };
                let mut response = ApiError::unauthorized(reason).into_response();
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
                }
                response
            }
            Refusal::Forbidden(reason) => ApiError::forbidden(reason).into_response(),
            Refusal::Unavailable(reason) => ApiError::unavailable(reason, RETRY_AFTER_SECONDS).into_response(),
        }
    }
}

impl Auth {
    pub fn new(settings: AuthSettings) -> Self {
        let keys = Keys::new(KeySettings { issuer: settings.issuer.clone(), min_refetch: settings.min_refetch });
        Self { settings, keys }
    }

    /// Fetches the issuer's keys now (a failure is logged; requests fetch them again).
    pub async fn prefetch(&self) {
        self.keys.prefetch().await;
    }

    /// The user an `Authorization` header stands for, or why it does not stand for one.
    pub async fn verify(&self, authorization: Option<&HeaderValue>) -> Result<User, Refusal> {
        let Some(value) = authorization else {
            return Err(Refusal::Unauthorized {
                reason: "sign-in required: send an access token (Authorization: Bearer <token>)".into(),
                error: None,
            });
        };
        let bearer = value.to_str().ok().and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
        let Some(bearer) = bearer.filter(|t| !t.is_empty()) else {
            return Err(Refusal::Unauthorized {
                reason: "the Authorization header is not `Bearer <token>`".into(),
                error: Some("invalid_request"),
            });
        };
        let header = token::header(bearer).map_err(Refusal::invalid)?;
        let keys = self.keys.candidates(header.alg, header.kid.as_deref()).await.map_err(|e| match e {
            KeyError::Unknown(reason) => Refusal::invalid(reason),
            KeyError::Unavailable(reason) => Refusal::Unavailable(reason),
        })?;
        let payload = self.check(bearer, header.alg, &keys)?;
        let claims = token::claims(&payload, &self.settings.claims).map_err(Refusal::invalid)?;
        let granted = Access::grant(self.settings.access.as_ref(), &claims.grants);
        if granted.roles.is_empty() {
            return Err(Refusal::Forbidden(format!(
                "no role: {:?} or {:?} is needed (the token's {:?} claim and the access file grant neither)",
                telemetry::auth::ROLE_VIEWER,
                telemetry::auth::ROLE_OPERATOR,
                self.settings.claims.roles
            )));
        }
        Ok(User { id: claims.grants.subject, name: claims.name, roles: granted.roles, sites: granted.sites })
    }

    /// The payload of `bearer` once one of `keys` verifies its signature and its `iss`, `aud`,
    /// `exp` and `nbf` are good.
    fn check(&self, bearer: &str, alg: Algorithm, keys: &[jsonwebtoken::DecodingKey]) -> Result<Value, Refusal> {
        let mut validation = Validation::new(alg);
        validation.leeway = self.settings.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let mut last = None;
        for key in keys {
            match jsonwebtoken::decode::<Value>(bearer, key, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(error) => last = Some(error),
            }
        }
        let kind = last.map(|e| e.into_kind()).unwrap_or(ErrorKind::InvalidSignature);
        // Past the signature (checked first), the payload is the issuer's: its values may be
        // named in the reason.
        let claim = |name: &str| unverified_claim(bearer, name).unwrap_or_else(|| "none".into());
        let now = crate::service::jwt::unix_now();
        let leeway = validation.leeway;
        Err(Refusal::invalid(match kind {
            ErrorKind::InvalidSignature => "the token's signature does not verify with the issuer's key".to_string(),
            ErrorKind::ExpiredSignature => {
                format!("the token expired (exp {}, now {now}, leeway {leeway} s)", claim("exp"))
            }
            ErrorKind::ImmatureSignature => {
                format!("the token is not valid yet (nbf {}, now {now}, leeway {leeway} s)", claim("nbf"))
            }
            ErrorKind::InvalidAudience => {
                format!("the token is for audience {}, not {:?}", claim("aud"), self.settings.audience)
            }
            ErrorKind::InvalidIssuer => {
                format!("the token was issued by {}, not {:?}", claim("iss"), self.settings.issuer)
            }
            ErrorKind::MissingRequiredClaim(name) => format!("the token has no `{name}` claim"),
            ErrorKind::InvalidAlgorithm => "the token's alg does not fit the issuer's key".to_string(),
            other => format!("the token cannot be read: {other:?}"),
        }))
    }
}

/// A claim of the payload as JSON text, without any check (for reasons only).
fn unverified_claim(bearer: &str, name: &str) -> Option<String> {
    use base64::Engine;
    let payload = bearer.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value.get(name).map(|v| v.to_string().chars().take(200).collect())
}

/// The token check in front of the functions routes: with sign-in on, the request goes on
/// with its [`Caller`] or is refused; without, it goes on untouched.
pub async fn require(State(state): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    let Some(auth) = &state.auth else { return next.run(request).await };
    match auth.verify(request.headers().get(header::AUTHORIZATION)).await {
        Ok(user) => {
            request.extensions_mut().insert(Caller::User(Arc::new(user)));
            next.run(request).await
        }
        Err(refusal) => {
            tracing::debug!(path = %request.uri().path(), reason = refusal.reason(), "request refused");
            refusal.respond(&auth.settings.audience)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(roles: &[Role], sites: Sites) -> Caller {
        Caller::User(Arc::new(User {
            id: "u1".into(),
            name: "Una".into(),
            roles: roles.iter().copied().collect(),
            sites,
        }))
    }

    #[test]
    fn callers_see_and_act_by_their_roles_and_sites() {
        let harbour = Sites::Only(BTreeSet::from(["harbour".to_string()]));
        let viewer = user(&[Role::Viewer], harbour.clone());
        assert!(viewer.sees("harbour") && !viewer.sees("airport") && viewer.is_restricted());
        let error = viewer.require_operator("acknowledge").unwrap_err();
        assert_eq!(error.status, StatusCode::FORBIDDEN);
        assert_eq!(error.message, "a viewer may not acknowledge: the operator role is needed");
        assert_eq!(viewer.require_site("airport").unwrap_err().message, "site \"airport\" is not among yours");
        assert!(viewer.require_device("m1", Some("harbour")).is_ok());
        assert!(viewer.require_device("m1", None).is_err(), "unknown devices only for every site");
        assert_eq!(viewer.name_or("mallory"), "Una");
        let me = viewer.identity();
        assert_eq!((me.signed_in, me.may_operate, me.sites), (true, false, Some(vec!["harbour".into()])));
        let operator = user(&[Role::Viewer, Role::Operator], Sites::All);
        assert!(operator.require_operator("shelve").is_ok() && !operator.is_restricted());
        assert!(operator.require_device("m1", None).is_ok());
        let me = operator.identity();
        assert_eq!((me.roles, me.sites, me.may_operate), (vec!["viewer".into(), "operator".into()], None, true));
        assert_eq!(Caller::Open.identity(), Identity::open());
        assert_eq!(Caller::Open.name_or("ann"), "ann");
    }

    #[test]
    fn a_refusal_says_why_in_the_body_and_the_challenge() {
        let response = Refusal::invalid("the token expired").respond("api://x");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenge = response.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert_eq!(
            challenge,
            "Bearer realm=\"api://x\", error=\"invalid_token\", error_description=\"the token expired\""
        );
        let anonymous = Refusal::Unauthorized { reason: "sign in".into(), error: None }.respond("api://x");
        assert_eq!(anonymous.headers()[header::WWW_AUTHENTICATE], "Bearer realm=\"api://x\"");
        let unavailable = Refusal::Unavailable("down".into()).respond("a");
        assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(unavailable.headers()[header::RETRY_AFTER], "10");
    }
}
