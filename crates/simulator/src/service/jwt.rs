//! HS256 JSON Web Tokens, keyed by the UTF-8 bytes of the connection string's AccessKey,
//! as Azure SignalR Service signs and checks them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The claims the simulator issues and reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub aud: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// User id (Azure's SDK writes `asrs.s.uid`; `nameid`, its long form and `sub` are also
    /// read).
    #[serde(rename = "asrs.s.uid", default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nameid: Option<String>,
    /// `ClaimTypes.NameIdentifier` written out, as .NET token handlers do when they do not
    /// shorten it to `nameid`.
    #[serde(
        rename = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub name_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
}

impl Claims {
    /// The user id, as the service reads it: `asrs.s.uid`, else `nameid` (short or long),
    /// else `sub`.
    pub fn user(&self) -> Option<String> {
        [&self.user_id, &self.nameid, &self.name_identifier, &self.sub].into_iter().find_map(Clone::clone)
    }
}

/// Why a token was refused. The messages go back to the caller in 401 bodies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no access token was sent (Authorization: Bearer or access_token query)")]
    Missing,
    #[error("the access token is not a well-formed JWT")]
    Malformed,
    #[error("the access token uses algorithm {0:?}; only HS256 is accepted")]
    Algorithm(String),
    #[error("the access token signature is invalid (signed with a different AccessKey?)")]
    Signature,
    #[error("the access token expired")]
    Expired,
    #[error("the access token audience {found:?} does not match {expected:?}")]
    Audience { found: String, expected: String },
}

/// Signs `claims` with `key`.
pub fn sign(claims: &Claims, key: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let signing_input = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(mac(key, signing_input.as_bytes()).finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

fn mac(key: &str, data: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(data);
    mac
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

/// Verifies signature, expiry (`now` in Unix seconds) and that the audience is one of
/// `audiences`; returns the claims.
pub fn verify(token: &str, key: &str, now: i64, audiences: &[&str]) -> Result<Claims, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header: Header = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(TokenError::Malformed)?;
    if header.alg != "HS256" {
        return Err(TokenError::Algorithm(header.alg));
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Malformed)?;
    let signed = &token[..token.len() - token.rsplit('.').next().map_or(0, str::len) - 1];
    mac(key, signed.as_bytes()).verify_slice(&signature).map_err(|_| TokenError::Signature)?;
    let claims: Claims = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(TokenError::Malformed)?;
    if claims.exp <= now {
        return Err(TokenError::Expired);
    }
    if !audiences.iter().any(|a| audience_matches(&claims.aud, a)) {
        return Err(TokenError::Audience { found: claims.aud, expected: audiences.first().unwrap_or(&"").to_string() });
    }
    Ok(claims)
}

/// Audiences compare without a trailing slash and with the hub name case-insensitive, the way
/// the service normalises them.
fn audience_matches(found: &str, expected: &str) -> bool {
    found.trim_end_matches('/').eq_ignore_ascii_case(expected.trim_end_matches('/'))
}

/// Current Unix time in seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(aud: &str, exp: i64) -> Claims {
        Claims { aud: aud.into(), exp, iat: None, user_id: None, nameid: None, name_identifier: None, sub: None }
    }

    #[test]
    fn round_trip_and_every_rejection() {
        let aud = "http://127.0.0.1:8888/client/?hub=telemetry";
        let token = sign(&claims(aud, 2_000), "key");
        assert_eq!(verify(&token, "key", 1_000, &[aud]).unwrap().aud, aud);
        assert_eq!(verify(&token, "other", 1_000, &[aud]), Err(TokenError::Signature));
        assert_eq!(verify(&token, "key", 2_000, &[aud]), Err(TokenError::Expired));
        assert!(matches!(verify(&token, "key", 1_000, &["http://x/"]), Err(TokenError::Audience { .. })));
        assert_eq!(verify("a.b", "key", 0, &[aud]), Err(TokenError::Malformed));
        assert_eq!(verify("", "key", 0, &[aud]), Err(TokenError::Malformed));
        // A tampered payload fails the signature check.
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(aud, 9_999)).unwrap());
        parts[1] = &forged;
        assert_eq!(verify(&parts.join("."), "key", 1_000, &[aud]), Err(TokenError::Signature));
    }

    #[test]
    fn alg_none_is_refused() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let payload = URL_SAFE_NO_PAD.encode(br#"{"aud":"a","exp":99999999999}"#);
        assert_eq!(verify(&format!("{header}.{payload}."), "k", 0, &["a"]), Err(TokenError::Algorithm("none".into())));
    }

    #[test]
    fn audience_ignores_trailing_slash_and_case() {
        assert!(audience_matches("http://h/client/?hub=Telemetry", "http://h/client/?hub=telemetry"));
        assert!(audience_matches("http://h/api/v1/hubs/t/", "http://h/api/v1/hubs/t"));
    }
}
