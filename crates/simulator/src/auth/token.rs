//! A bearer token's parts before and after its signature is checked: the header (whose `alg`
//! must be RS256 or ES256, refused otherwise with the reason) and the claims the functions read
//! (`sub`, the roles, the sites, the name).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::access::TokenGrants;

/// The algorithms a token may be signed with.
pub const ALGORITHMS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];

/// What a token's header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub alg: Algorithm,
    pub kid: Option<String>,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
}

/// The header of `token`, whose algorithm must be one of [`ALGORITHMS`]; `Err` says why not.
pub fn header(token: &str) -> Result<Header, String> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(format!(
            "the bearer token is not a signed JWT (header.payload.signature): it has {} part(s)",
            parts.len()
        ));
    }
    let raw: RawHeader = URL_SAFE_NO_PAD
        .decode(parts[0])
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or("the bearer token's header is not base64url JSON")?;
    let alg = match raw.alg.as_deref() {
        Some("RS256") => Algorithm::RS256,
        Some("ES256") => Algorithm::ES256,
        Some(other) => {
            return Err(format!("the token is signed with alg {other:?}: only RS256 and ES256 are accepted"))
        }
        None => return Err("the token's header names no alg: only RS256 and ES256 are accepted".into()),
    };
    Ok(Header { alg, kid: raw.kid })
}

/// The claim names the functions read (the flags `--oidc-roles-claim`, `--oidc-sites-claim`,
/// `--oidc-name-claim`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNames {
    pub roles: String,
    pub sites: String,
    pub name: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self { roles: "roles".into(), sites: "sites".into(), name: "name".into() }
    }
}

/// What the functions take from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    pub grants: TokenGrants,
    /// Who acknowledgements and shelves are recorded under: the name claim, else
    /// `preferred_username`, else `email`, else `sub`; trimmed, at most 64 characters.
    pub name: String,
}

/// Longest user id (`sub`) taken: it becomes the SignalR user id.
pub const MAX_SUBJECT_CHARS: usize = 256;

/// A claim that lists strings: an array of them, or one string of them separated by spaces (as
/// `scope` is written). `Err` when it is something else.
fn string_list(claims: &Value, name: &str) -> Result<Option<Vec<String>>, String> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.split_whitespace().map(str::to_string).collect())),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| format!("the token's {name:?} claim holds something other than strings")),
        Some(_) => Err(format!("the token's {name:?} claim is neither a list of strings nor a string")),
    }
}

/// The claims of a verified token's payload (`claims`); `Err` says which one is unusable.
pub fn claims(claims: &Value, names: &ClaimNames) -> Result<TokenClaims, String> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    // An ID token is for the page, not a bearer for the API (OpenID Connect Core §2: only ID
    // tokens carry a `nonce`): refused even when its audience happens to be the API's too.
    if claims.get("nonce").is_some() {
        return Err("this is an ID token (it has a `nonce`): send the access token".into());
    }
    // The id exactly as issued: " alice" is not "alice".
    let subject = claims.get("sub").and_then(Value::as_str).ok_or("the token has no `sub` claim (the user's id)")?;
    if subject.is_empty()
        || subject.trim() != subject
        || subject.chars().count() > MAX_SUBJECT_CHARS
        || subject.chars().any(char::is_control)
    {
        return Err(format!(
            "the token's `sub` must be 1 to {MAX_SUBJECT_CHARS} characters, none a control character, no space at either end"
        ));
    }
    let name = [names.name.as_str(), "preferred_username", "email", "sub"]
        .into_iter()
        .find_map(text)
        .unwrap_or(subject)
        .chars()
        .take(telemetry::alarms::MAX_BY_CHARS)
        .collect::<String>()
        .trim()
        .to_string();
    let grants = TokenGrants {
        subject: subject.to_string(),
        username: text("preferred_username").map(str::to_string),
        roles: string_list(claims, &names.roles)?.unwrap_or_default(),
        sites: string_list(claims, &names.sites)?,
    };
    Ok(TokenClaims { grants, name })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encoded(header: &str) -> String {
        format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(header))
    }

    #[test]
    fn only_rs256_and_es256_pass_the_header() {
        let es = header(&encoded(r#"{"alg":"ES256","kid":"k1","typ":"at+jwt"}"#)).unwrap();
        assert_eq!(es, Header { alg: Algorithm::ES256, kid: Some("k1".into()) });
        assert_eq!(header(&encoded(r#"{"alg":"RS256"}"#)).unwrap().alg, Algorithm::RS256);
        for (alg, shown) in
            [("none", "\"none\""), ("HS256", "\"HS256\""), ("PS256", "\"PS256\""), ("EdDSA", "\"EdDSA\"")]
        {
            let error = header(&encoded(&format!(r#"{{"alg":"{alg}"}}"#))).unwrap_err();
            assert!(error.contains(shown) && error.contains("only RS256 and ES256"), "{error}");
        }
        assert!(header(&encoded("{}")).unwrap_err().contains("names no alg"));
        assert!(header("a.b").unwrap_err().contains("2 part(s)"));
        assert!(header("!!.e30.sig").unwrap_err().contains("not base64url JSON"));
        // `alg: none` with an empty signature is still three parts, and still refused.
        let none = format!("{}.e30.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#));
        assert!(header(&none).unwrap_err().contains("\"none\""));
    }

    #[test]
    fn claims_take_lists_or_spaced_strings_and_the_name_falls_back() {
        let names = ClaimNames::default();
        let full =
            json!({"sub": "u1", "name": "Alice Operator", "roles": ["operator", "x"], "sites": "harbour airport"});
        let claims_of = claims(&full, &names).unwrap();
        assert_eq!(claims_of.name, "Alice Operator");
        assert_eq!(claims_of.grants.roles, ["operator", "x"]);
        assert_eq!(claims_of.grants.sites, Some(vec!["harbour".into(), "airport".into()]));
        let bare = claims(&json!({"sub": "u2", "email": "b@example.com", "roles": "viewer"}), &names).unwrap();
        assert_eq!((bare.name.as_str(), bare.grants.sites), ("b@example.com", None));
        assert_eq!(claims(&json!({"sub": "u3", "preferred_username": "carl"}), &names).unwrap().name, "carl");
        assert_eq!(claims(&json!({"sub": "u4", "name": "  "}), &names).unwrap().name, "u4");
        let long = claims(&json!({"sub": "u5", "name": "n".repeat(100)}), &names).unwrap();
        assert_eq!(long.name.chars().count(), 64);
        // Other claim names.
        let custom = ClaimNames { roles: "groups".into(), sites: "ext_sites".into(), name: "display".into() };
        let other = json!({"sub": "u6", "display": "Dee", "groups": ["viewer"], "ext_sites": ["north"]});
        let read = claims(&other, &custom).unwrap();
        assert_eq!((read.name.as_str(), read.grants.roles.len()), ("Dee", 1));
        assert!(claims(&json!({"name": "x"}), &names).unwrap_err().contains("`sub`"));
        assert!(claims(&json!({"sub": "u", "roles": [1]}), &names).unwrap_err().contains("\"roles\""));
        assert!(claims(&json!({"sub": "u", "sites": {}}), &names).unwrap_err().contains("\"sites\""));
        // The user's id exactly as issued, and no ID token as a bearer.
        assert!(claims(&json!({"sub": " alice"}), &names).unwrap_err().contains("no space at either end"));
        assert!(claims(&json!({"sub": ""}), &names).unwrap_err().contains("`sub`"));
        assert!(claims(&json!({"sub": "u", "nonce": "n"}), &names).unwrap_err().contains("ID token"));
    }
}
