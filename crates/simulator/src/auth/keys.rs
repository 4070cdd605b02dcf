//! The issuer's signing keys: its discovery document
//! (`{issuer}/.well-known/openid-configuration`, whose `issuer` must be the one configured) names
//! its `jwks_uri`, whose keys are kept by `kid`. A token naming a `kid` not kept makes the keys
//! fetched again (the issuer rotated them), but not more often than once per
//! [`KeySettings::min_refetch`], so forged kids cannot make the simulator hammer the issuer.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

/// Largest discovery document or key set read.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// How the keys are fetched.
#[derive(Debug, Clone)]
pub struct KeySettings {
    /// The issuer, exactly as tokens name it (`iss`).
    pub issuer: String,
    /// Fetch again at most this often.
    pub min_refetch: Duration,
}

/// A key the issuer published, usable for one algorithm.
#[derive(Clone)]
struct Key {
    alg: Algorithm,
    key: DecodingKey,
}

/// The keys kept, and the last fetch.
#[derive(Default)]
struct Kept {
    by_kid: HashMap<String, Key>,
    /// Keys published without a `kid` (a token without one is tried against those of its alg).
    unnamed: Vec<Key>,
    /// When the keys were last fetched successfully.
    fetched: Option<Instant>,
}

/// When a fetch was last tried and how it ended.
#[derive(Default)]
struct Attempt {
    at: Option<Instant>,
    error: Option<String>,
}

/// Why no key verifies a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The keys are known and none has this kid (or fits the token's alg): the token is refused.
    Unknown(String),
    /// The keys could not be fetched: nobody can tell whether the token is good.
    Unavailable(String),
}

/// The issuer's keys.
pub struct Keys {
    settings: KeySettings,
    client: reqwest::Client,
    kept: RwLock<Kept>,
    /// Held while fetching, so concurrent misses wait for one fetch.
    attempt: tokio::sync::Mutex<Attempt>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<serde_json::Value>,
}

impl Keys {
    pub fn new(settings: KeySettings) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(3))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self { settings, client, kept: RwLock::default(), attempt: tokio::sync::Mutex::default() }
    }

    /// The keys that may have signed a token of `alg` naming `kid`: fetched first if none is
    /// kept for it and the last fetch is at least [`KeySettings::min_refetch`] ago.
    pub async fn candidates(&self, alg: Algorithm, kid: Option<&str>) -> Result<Vec<DecodingKey>, KeyError> {
        if let Some(found) = self.kept_for(alg, kid) {
            return Ok(found);
        }
        let mut attempt = self.attempt.lock().await;
        // Another request may have fetched them meanwhile.
        if let Some(found) = self.kept_for(alg, kid) {
            return Ok(found);
        }
        let due = attempt.at.is_none_or(|at| at.elapsed() >= self.settings.min_refetch);
        if due {
            self.refresh(&mut attempt).await;
            if let Some(found) = self.kept_for(alg, kid) {
                return Ok(found);
            }
        }
        let fetched = self.kept.read().expect("keys lock").fetched.is_some();
        match (&attempt.error, fetched) {
            (Some(error), _) => {
                Err(KeyError::Unavailable(format!("the issuer's keys could not be fetched ({error}); retry later")))
            }
            (None, false) => {
                Err(KeyError::Unavailable("the issuer's keys have not been fetched yet; retry later".into()))
            }
            (None, true) => Err(KeyError::Unknown(match kid {
                Some(kid) => format!("the token's key {kid:?} is not among the issuer's published {alg:?} keys"),
                None => format!("the token names no key (kid) and the issuer publishes no {alg:?} key without one"),
            })),
        }
    }

    /// Fetches the keys now, for a start that does not wait for the first request.
    pub async fn prefetch(&self) {
        let mut attempt = self.attempt.lock().await;
        self.refresh(&mut attempt).await;
    }

    /// Fetches the keys and keeps them in place of those kept (keys the issuer no longer
    /// publishes go); a failure keeps the old ones and is remembered in `attempt`.
    async fn refresh(&self, attempt: &mut Attempt) {
        attempt.at = Some(Instant::now());
        attempt.error = match self.fetch().await {
            Ok(kept) => {
                *self.kept.write().expect("keys lock") = kept;
                None
            }
            Err(error) => {
                tracing::warn!(issuer = %self.settings.issuer, %error, "the issuer's keys could not be fetched");
                Some(error)
            }
        };
    }

    fn kept_for(&self, alg: Algorithm, kid: Option<&str>) -> Option<Vec<DecodingKey>> {
        let kept = self.kept.read().expect("keys lock");
        let found: Vec<DecodingKey> = match kid {
            Some(kid) => kept.by_kid.get(kid).filter(|k| k.alg == alg).map(|k| k.key.clone()).into_iter().collect(),
            None => kept
                .unnamed
                .iter()
                .chain(kept.by_kid.values())
                .filter(|k| k.alg == alg)
                .map(|k| k.key.clone())
                .collect(),
        };
        (!found.is_empty()).then_some(found)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str, what: &str) -> Result<T, String> {
        let response = self.client.get(url).send().await.map_err(|e| format!("GET {url}: {}", e.without_url()))?;
        if !response.status().is_success() {
            return Err(format!("GET {url} answered {}", response.status()));
        }
        let body = response.bytes().await.map_err(|e| format!("GET {url}: {}", e.without_url()))?;
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(format!("GET {url}: the {what} is over {MAX_DOCUMENT_BYTES} bytes"));
        }
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not a {what}: {e}"))
    }

    async fn fetch(&self) -> Result<Kept, String> {
        let issuer = &self.settings.issuer;
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let discovery: Discovery = self.get_json(&url, "discovery document").await?;
        if &discovery.issuer != issuer {
            return Err(format!(
                "the discovery document at {url} names the issuer {:?}, not {issuer:?} (tokens would not match either)",
                discovery.issuer
            ));
        }
        let set: KeySet = self.get_json(&discovery.jwks_uri, "JWK set").await?;
        let mut kept = Kept { fetched: Some(Instant::now()), ..Kept::default() };
        for value in set.keys {
            let Some((kid, key)) = usable(value) else { continue };
            match kid {
                Some(kid) => {
                    kept.by_kid.insert(kid, key);
                }
                None => kept.unnamed.push(key),
            }
        }
        tracing::info!(issuer = %issuer, keys = kept.by_kid.len() + kept.unnamed.len(), "the issuer's keys fetched");
        Ok(kept)
    }
}

/// A published key the functions can verify with (RSA for RS256, EC P-256 for ES256, meant for
/// signatures), with its kid; `None` for any other (an encryption key, another curve, ...).
fn usable(value: serde_json::Value) -> Option<(Option<String>, Key)> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    if jwk.common.public_key_use.as_ref().is_some_and(|u| *u != jsonwebtoken::jwk::PublicKeyUse::Signature) {
        return None;
    }
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
        _ => return None,
    };
    // A key that names its algorithm is for that one only.
    let named_fits = match jwk.common.key_algorithm {
        None => true,
        Some(named) => {
            matches!((named, alg), (KeyAlgorithm::RS256, Algorithm::RS256) | (KeyAlgorithm::ES256, Algorithm::ES256))
        }
    };
    if !named_fits {
        return None;
    }
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some((jwk.common.key_id.clone(), Key { alg, key }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_signature_keys_for_rs256_and_es256_on_p256_are_kept() {
        let ec = json!({"kty": "EC", "crv": "P-256", "kid": "e1", "use": "sig", "alg": "ES256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
        let (kid, key) = usable(ec.clone()).expect("an ES256 key");
        assert_eq!((kid.as_deref(), key.alg), (Some("e1"), Algorithm::ES256));
        let mut encryption = ec.clone();
        encryption["use"] = json!("enc");
        assert!(usable(encryption).is_none(), "an encryption key");
        let mut other_curve = ec.clone();
        other_curve["crv"] = json!("P-384");
        assert!(usable(other_curve).is_none(), "another curve");
        let mut mislabelled = ec;
        mislabelled["alg"] = json!("ES384");
        assert!(usable(mislabelled).is_none(), "a key for another algorithm");
        let rsa = json!({"kty": "RSA", "kid": "r1", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"});
        assert_eq!(usable(rsa).map(|(_, k)| k.alg), Some(Algorithm::RS256));
        assert!(usable(json!({"kty": "oct", "k": "c2VjcmV0"})).is_none(), "a shared secret");
        assert!(usable(json!({"kty": "weird"})).is_none());
    }
}
