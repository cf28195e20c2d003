//! Google sign-in: verifying Google ID tokens.
//!
//! A token is accepted when it is an RS256 JWT whose `kid` names a key of Google's key set (the
//! JWKS at `CHATGATE_GOOGLE_JWKS_URL`, an https URL or a local file), whose signature verifies
//! with that key, whose `aud` is `CHATGATE_GOOGLE_CLIENT_ID`, whose `iss` is
//! `https://accounts.google.com` or `accounts.google.com`, and whose `exp` has not passed. The
//! algorithm list is fixed (no `none`, no HMAC), so a key can never be used as an HMAC secret.
//!
//! The key set is cached for as long as its `Cache-Control: max-age` says (an hour when it says
//! nothing, or for a file) and fetched again when a token names a key the cache does not hold —
//! Google rotates keys — at most once per [`REFETCH_COOLDOWN`], so tokens with made-up key ids
//! cannot make chatgate hammer the key server.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::providers::LoginError;
use chatgate_core::service::ExternalIdentity;

/// Google's published key set.
pub const DEFAULT_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
/// The issuers Google ID tokens carry.
pub const ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];
/// The least time between two fetches caused by unknown key ids.
pub const REFETCH_COOLDOWN: Duration = Duration::from_secs(1);
const DEFAULT_KEYS_TTL: Duration = Duration::from_secs(3600);
/// A key set larger than this is refused.
const MAX_JWKS_BYTES: usize = 256 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoogleSettings {
    /// The OAuth client id tokens must be issued for (`aud`).
    pub client_id: String,
    /// Where the key set is: an http(s) URL, or a file (`file:///path` or a plain path).
    pub jwks_url: String,
}

#[derive(Deserialize)]
struct GoogleClaims {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    picture: Option<String>,
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
    fresh_until: Option<Instant>,
}

pub struct GoogleVerifier {
    settings: GoogleSettings,
    client: reqwest::Client,
    cache: Mutex<KeyCache>,
    validation: Validation,
}

impl GoogleVerifier {
    pub fn new(settings: GoogleSettings, client: reqwest::Client) -> GoogleVerifier {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.algorithms = vec![Algorithm::RS256];
        validation.set_audience(&[settings.client_id.as_str()]);
        validation.set_issuer(&ISSUERS);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        GoogleVerifier { settings, client, cache: Mutex::new(KeyCache::default()), validation }
    }

    pub fn describe(&self) -> String {
        format!("client id {}, keys from {}", self.settings.client_id, self.settings.jwks_url)
    }

    pub async fn verify(&self, id_token: &str) -> Result<ExternalIdentity, LoginError> {
        let header = jsonwebtoken::decode_header(id_token)
            .map_err(|_| LoginError::Rejected("The ID token is not a JWT signed with RS256".into()))?;
        if header.alg != Algorithm::RS256 {
            return Err(LoginError::Rejected("The ID token must be signed with RS256".into()));
        }
        let kid = header.kid.ok_or_else(|| LoginError::Rejected("The ID token names no key (kid)".into()))?;
        let key = self.key(&kid).await?;
        let data = jsonwebtoken::decode::<GoogleClaims>(id_token, &key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            LoginError::Rejected(
                match e.kind() {
                    K::ExpiredSignature => "The ID token has expired",
                    K::InvalidAudience => "The ID token was not issued for this application",
                    K::InvalidIssuer => "The ID token was not issued by Google",
                    K::InvalidSignature => "The ID token's signature does not verify",
                    K::MissingRequiredClaim(_) => "The ID token lacks a required claim (exp, iss, aud, sub)",
                    K::InvalidAlgorithm => "The ID token must be signed with RS256",
                    _ => "The ID token is malformed",
                }
                .to_owned(),
            )
        })?;
        let claims = data.claims;
        Ok(ExternalIdentity {
            provider: "google".to_owned(),
            subject: claims.sub,
            name: claims.name,
            email: claims.email,
            picture: claims.picture,
        })
    }

    /// The key named `kid`, fetching the key set when the cache is stale or lacks it.
    async fn key(&self, kid: &str) -> Result<DecodingKey, LoginError> {
        let mut cache = self.cache.lock().await;
        let now = Instant::now();
        let stale = cache.fresh_until.is_none_or(|t| now >= t);
        let unknown = !cache.keys.contains_key(kid);
        let may_refetch = cache.fetched_at.is_none_or(|t| now.duration_since(t) >= REFETCH_COOLDOWN);
        if stale || (unknown && may_refetch) {
            match self.fetch().await {
                Ok((keys, ttl)) => {
                    tracing::debug!(keys = keys.len(), "Google key set fetched");
                    *cache = KeyCache { keys, fetched_at: Some(now), fresh_until: Some(now + ttl) };
                }
                // Keys we already hold stay usable while the key server is away.
                Err(e) if !cache.keys.is_empty() => {
                    tracing::warn!(error = %e, "Google key set could not be refreshed; using the cached keys");
                    cache.fetched_at = Some(now);
                }
                Err(e) => return Err(e),
            }
        }
        cache.keys.get(kid).cloned().ok_or_else(|| {
            LoginError::Rejected(format!("The ID token's key '{kid}' is not one of Google's keys"))
        })
    }

    async fn fetch(&self) -> Result<(HashMap<String, DecodingKey>, Duration), LoginError> {
        let source = &self.settings.jwks_url;
        let (bytes, ttl) = if source.starts_with("http://") || source.starts_with("https://") {
            let response =
                self.client.get(source).send().await.map_err(|e| {
                    LoginError::Unavailable(format!("Google's keys could not be fetched: {e}"))
                })?;
            if !response.status().is_success() {
                return Err(LoginError::Unavailable(format!(
                    "Google's key server answered {}",
                    response.status()
                )));
            }
            let ttl = response
                .headers()
                .get(reqwest::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok())
                .and_then(max_age)
                .unwrap_or(DEFAULT_KEYS_TTL);
            let bytes = response
                .bytes()
                .await
                .map_err(|e| LoginError::Unavailable(format!("Google's keys could not be read: {e}")))?;
            (bytes.to_vec(), ttl)
        } else {
            let path = source.strip_prefix("file://").unwrap_or(source).to_owned();
            let read = tokio::task::spawn_blocking(move || std::fs::read(path))
                .await
                .map_err(|e| LoginError::Unavailable(e.to_string()))?;
            let bytes = read.map_err(|e| {
                LoginError::Unavailable(format!("The Google key file could not be read: {e}"))
            })?;
            (bytes, DEFAULT_KEYS_TTL)
        };
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(LoginError::Unavailable("Google's key set is too large".into()));
        }
        Ok((parse_key_set(&bytes)?, ttl))
    }
}

/// The RSA signing keys of a JWKS document, by key id. Keys of other types, or meant for other
/// algorithms, are left out.
fn parse_key_set(bytes: &[u8]) -> Result<HashMap<String, DecodingKey>, LoginError> {
    #[derive(Deserialize)]
    struct KeySet {
        keys: Vec<serde_json::Value>,
    }
    let set: KeySet = serde_json::from_slice(bytes)
        .map_err(|e| LoginError::Unavailable(format!("Google's key set is not a JWKS: {e}")))?;
    let mut keys = HashMap::new();
    for value in set.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else { continue };
        let rs256 = matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::RS256));
        if let (Some(kid), AlgorithmParameters::RSA(_), true) = (&jwk.common.key_id, &jwk.algorithm, rs256)
            && let Ok(key) = DecodingKey::from_jwk(&jwk)
        {
            keys.insert(kid.clone(), key);
        }
    }
    Ok(keys)
}

/// `max-age` of a Cache-Control header.
fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control
        .split(',')
        .filter_map(|d| d.trim().strip_prefix("max-age="))
        .find_map(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_lifetimes_come_from_max_age() {
        assert_eq!(max_age("public, max-age=19845, must-revalidate"), Some(Duration::from_secs(19845)));
        assert_eq!(max_age("no-store"), None);
    }

    #[test]
    fn only_rsa_signing_keys_are_kept() {
        let set = br#"{"keys":[
            {"kty":"RSA","kid":"a","alg":"RS256","use":"sig","n":"sXch","e":"AQAB"},
            {"kty":"oct","kid":"h","k":"c2VjcmV0"},
            {"kty":"RSA","alg":"RS256","n":"sXch","e":"AQAB"},
            {"kty":"weird"}
        ]}"#;
        let keys = parse_key_set(set).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["a"]);
    }
}
