//! The parts of signing in that need no browser: PKCE's encoding, the authorization request,
//! the provider's answer on the way back, the ID token's checks and when to renew. Tested
//! natively; `auth` wires them to the page.

use serde::Deserialize;

/// Scopes always asked for besides the API's: who the user is, and a refresh token so the
/// page renews without leaving.
pub const BASE_SCOPES: &str = "openid profile offline_access";

/// Bytes as unpadded base64url (RFC 4648 §5), as PKCE and JWTs write them.
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Unpadded (or padded) base64url back to bytes; `None` for any other character.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    };
    let text = text.trim_end_matches('=').as_bytes();
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= u32::from(value(*c)?) << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

/// `text` percent-encoded for a URL query or a form body (everything but RFC 3986's
/// unreserved characters).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `key=value&…`, each encoded.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// The scopes to ask for: [`BASE_SCOPES`] and the API's, each once.
pub fn scopes(api_scope: &str) -> String {
    let mut all: Vec<&str> = Vec::new();
    for scope in BASE_SCOPES.split(' ').chain(api_scope.split_whitespace()) {
        if !all.contains(&scope) {
            all.push(scope);
        }
    }
    all.join(" ")
}

/// The parts of the provider's discovery document the page uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

impl Discovery {
    /// The document, checked: its issuer is the configured authority (RFC 8414 §3.3: a
    /// document naming another issuer must not be used).
    pub fn parse(text: &str, authority: &str) -> Result<Self, String> {
        let discovery: Discovery =
            serde_json::from_str(text).map_err(|e| format!("the provider's discovery document is not usable: {e}"))?;
        if discovery.issuer.trim_end_matches('/') != authority.trim_end_matches('/') {
            return Err(format!(
                "the provider's discovery document names the issuer {:?}, not the configured authority {authority:?}",
                discovery.issuer
            ));
        }
        Ok(discovery)
    }
}

/// What the page keeps across the trip to the provider (in session storage: it must survive
/// the redirect, and it is no token).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// The page's address before it left (path, query and fragment), restored after.
    pub return_to: String,
}

/// The authorization request (authorization code with PKCE, S256).
pub fn authorize_url(
    endpoint: &str,
    client_id: &str,
    redirect_uri: &str,
    api_scope: &str,
    pending: &Pending,
    challenge: &str,
) -> String {
    let query = form(&[
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", &scopes(api_scope)),
        ("state", &pending.state),
        ("nonce", &pending.nonce),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]);
    let joiner = if endpoint.contains('?') { '&' } else { '?' };
    format!("{endpoint}{joiner}{query}")
}

/// What the provider sent back in the page's query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    Code { code: String, state: String },
    Refused { error: String, description: String, state: String },
}

impl Callback {
    /// Reads `code`/`error` and `state` from query pairs; `None` when this is no answer.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Self> {
        let (mut code, mut error, mut description, mut state) = (None, None, String::new(), String::new());
        for (key, value) in pairs {
            match key {
                "code" => code = Some(value.to_string()),
                "error" => error = Some(value.to_string()),
                "error_description" => description = value.to_string(),
                "state" => state = value.to_string(),
                _ => {}
            }
        }
        match (code, error) {
            (_, Some(error)) => Some(Callback::Refused { error, description, state }),
            (Some(code), None) => Some(Callback::Code { code, state }),
            (None, None) => None,
        }
    }

    pub fn state(&self) -> &str {
        match self {
            Callback::Code { state, .. } | Callback::Refused { state, .. } => state,
        }
    }
}

/// The token endpoint's answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    #[serde(default)]
    pub token_type: String,
    /// Seconds the access token lives.
    #[serde(default)]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub id_token: Option<String>,
}

impl TokenAnswer {
    pub fn parse(text: &str) -> Result<Self, String> {
        let answer: TokenAnswer =
            serde_json::from_str(text).map_err(|e| format!("the provider's token answer is not usable: {e}"))?;
        if !answer.token_type.is_empty() && !answer.token_type.eq_ignore_ascii_case("bearer") {
            return Err(format!("the provider issued a {:?} token, not a bearer token", answer.token_type));
        }
        Ok(answer)
    }
}

/// An `aud` claim: one audience or several.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// The ID token's claims the page checks and shows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    aud: Audience,
    pub exp: i64,
    pub sub: String,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

impl IdClaims {
    /// Reads a JWT's payload (its signature is not checked here: the token came straight from
    /// the token endpoint over the provider's TLS, which OpenID Connect Core §3.1.3.7 accepts
    /// for the code flow; the functions check every access token they are sent).
    pub fn read(jwt: &str) -> Result<Self, String> {
        let payload = jwt.split('.').nth(1).ok_or("the ID token is not a JWT")?;
        let bytes = base64url_decode(payload).ok_or("the ID token's payload is not base64url")?;
        serde_json::from_slice(&bytes).map_err(|e| format!("the ID token's claims are not usable: {e}"))
    }

    /// The checks of OpenID Connect Core §3.1.3.7 that need no signature: issuer, audience,
    /// lifetime, and the nonce sent (which ties the token to this page's request).
    pub fn check(&self, issuer: &str, client_id: &str, nonce: &str, now_s: i64) -> Result<(), String> {
        if self.iss.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(format!("the ID token was issued by {:?}, not {issuer:?}", self.iss));
        }
        let for_us = match &self.aud {
            Audience::One(aud) => aud == client_id,
            Audience::Many(auds) => auds.iter().any(|a| a == client_id),
        };
        if !for_us {
            return Err(format!("the ID token is not for this client ({client_id:?})"));
        }
        // A minute's leeway for clocks that disagree.
        if self.exp + 60 < now_s {
            return Err("the ID token has expired".into());
        }
        if self.nonce.as_deref() != Some(nonce) {
            return Err("the ID token's nonce is not the one this page sent: the answer is refused".into());
        }
        Ok(())
    }

    /// The name to show: `name`, else `preferred_username`, else `email`, else the subject.
    pub fn display_name(&self) -> &str {
        [&self.name, &self.preferred_username, &self.email]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .find(|n| !n.trim().is_empty())
            .unwrap_or(&self.sub)
    }
}

/// When to renew a token that lives `lifetime_ms` from `received_ms`: a quarter of its life
/// before it ends, at most a minute before, and never sooner than a second from now.
pub fn renew_at(received_ms: f64, lifetime_ms: f64) -> f64 {
    let margin = (lifetime_ms / 4.0).min(60_000.0);
    received_ms + (lifetime_ms - margin).max(1_000.0)
}

/// The lifetime assumed when the provider does not say (`expires_in` is only recommended).
pub const DEFAULT_LIFETIME_S: u64 = 300;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_and_matches_rfc_7636s_example() {
        // RFC 7636 appendix B: the verifier's octets and its S256 challenge's encoding.
        let digest = [
            19, 211, 30, 150, 26, 26, 216, 236, 47, 22, 177, 12, 76, 152, 46, 8, 118, 168, 120, 173, 109, 241, 68, 86,
            110, 225, 137, 74, 203, 112, 249, 195,
        ];
        assert_eq!(base64url(&digest), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        for len in 0..40u8 {
            let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37).wrapping_add(250)).collect();
            let text = base64url(&bytes);
            assert!(!text.contains('=') && !text.contains('+') && !text.contains('/'), "{text}");
            assert_eq!(base64url_decode(&text).unwrap(), bytes);
        }
        assert_eq!(base64url_decode("aGk="), Some(b"hi".to_vec()));
        assert_eq!(base64url_decode("a+b/"), None);
        assert_eq!(base64url_decode("abcde"), None);
    }

    #[test]
    fn the_authorization_request_carries_pkce_state_nonce_and_every_scope_once() {
        let pending =
            Pending { state: "s t".into(), nonce: "n".into(), verifier: "v".into(), return_to: "/#/fleet".into() };
        let url = authorize_url(
            "https://id.example/auth",
            "dash board",
            "http://127.0.0.1:8080/",
            "openid api://x/read",
            &pending,
            "CH",
        );
        assert_eq!(
            url,
            "https://id.example/auth?response_type=code&client_id=dash%20board&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2F\
             &scope=openid%20profile%20offline_access%20api%3A%2F%2Fx%2Fread&state=s%20t&nonce=n&code_challenge=CH\
             &code_challenge_method=S256"
        );
        assert!(authorize_url("https://id.example/auth?p=1", "c", "r", "", &pending, "CH")
            .starts_with("https://id.example/auth?p=1&response_type"));
        assert!(!url.contains("secret"));
    }

    #[test]
    fn the_answer_on_the_way_back_is_a_code_a_refusal_or_nothing() {
        let code = Callback::from_pairs([("code", "c1"), ("state", "s1"), ("iss", "x")]).unwrap();
        assert_eq!(code, Callback::Code { code: "c1".into(), state: "s1".into() });
        let refused =
            Callback::from_pairs([("error", "access_denied"), ("error_description", "no"), ("state", "s2")]).unwrap();
        assert_eq!(refused.state(), "s2");
        assert!(matches!(refused, Callback::Refused { ref error, .. } if error == "access_denied"));
        assert_eq!(Callback::from_pairs([("apiBase", "/api")]), None);
    }

    fn jwt(claims: &serde_json::Value) -> String {
        format!("{}.{}.sig", base64url(b"{\"alg\":\"ES256\"}"), base64url(claims.to_string().as_bytes()))
    }

    #[test]
    fn the_id_token_is_checked_for_issuer_audience_lifetime_and_nonce() {
        let good = serde_json::json!({"iss": "https://id.example", "aud": "dash", "exp": 1_000, "sub": "u1", "nonce": "n1", "name": "Ann"});
        let claims = IdClaims::read(&jwt(&good)).unwrap();
        assert_eq!(claims.check("https://id.example/", "dash", "n1", 900), Ok(()));
        assert_eq!(claims.display_name(), "Ann");
        let err = |claims: serde_json::Value, nonce: &str, now: i64| {
            IdClaims::read(&jwt(&claims)).unwrap().check("https://id.example", "dash", nonce, now).unwrap_err()
        };
        assert!(err(good.clone(), "other", 900).contains("nonce"));
        assert!(err(good.clone(), "n1", 1_061).contains("expired"));
        let mut other = good.clone();
        other["iss"] = "https://evil.example".into();
        assert!(err(other, "n1", 900).contains("issued by"));
        let mut many = good.clone();
        many["aud"] = serde_json::json!(["api", "other"]);
        assert!(err(many.clone(), "n1", 900).contains("not for this client"));
        many["aud"] = serde_json::json!(["api", "dash"]);
        assert!(IdClaims::read(&jwt(&many)).unwrap().check("https://id.example", "dash", "n1", 900).is_ok());
        let mut nameless = good;
        nameless["name"] = serde_json::Value::Null;
        assert_eq!(IdClaims::read(&jwt(&nameless)).unwrap().display_name(), "u1");
        assert!(IdClaims::read("not-a-jwt").is_err());
        assert!(IdClaims::read("a.%%%.c").is_err());
    }

    #[test]
    fn a_discovery_document_of_another_issuer_and_a_non_bearer_token_are_refused() {
        let doc = r#"{"issuer":"https://id.example/","authorization_endpoint":"https://id.example/auth","token_endpoint":"https://id.example/token"}"#;
        assert_eq!(Discovery::parse(doc, "https://id.example").unwrap().end_session_endpoint, None);
        assert!(Discovery::parse(doc, "https://other.example").unwrap_err().contains("names the issuer"));
        assert!(TokenAnswer::parse(r#"{"access_token":"a","token_type":"Bearer","expires_in":60}"#).is_ok());
        assert!(TokenAnswer::parse(r#"{"access_token":"a","token_type":"DPoP"}"#)
            .unwrap_err()
            .contains("not a bearer"));
        assert!(TokenAnswer::parse(r#"{"token_type":"Bearer"}"#).is_err());
    }

    #[test]
    fn renewal_comes_a_quarter_of_the_life_early_at_most_a_minute() {
        assert_eq!(renew_at(0.0, 3_600_000.0), 3_540_000.0);
        assert_eq!(renew_at(1_000.0, 20_000.0), 16_000.0);
        assert_eq!(renew_at(0.0, 500.0), 1_000.0);
        assert_eq!(form(&[("a b", "c&d")]), "a%20b=c%26d");
    }
}
