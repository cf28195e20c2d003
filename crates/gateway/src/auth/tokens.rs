//! chatgate's own JWTs: HS256 only (no `none`, no algorithm confusion), claims `sub`, `name`,
//! `role`, `tenant`, `exp`, `iat`.

use std::time::Duration;

use chatgate_core::{DEFAULT_TENANT, Principal, Role, Timestamp};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub exp: i64,
    #[serde(default)]
    pub iat: i64,
}

/// Signs and verifies tokens with one secret.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

/// Why a token was refused; the message is safe to show to the caller.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TokenError(pub String);

impl Tokens {
    /// `secret`: the raw key bytes (the UTF-8 bytes of `CHATGATE_JWT_SECRET`).
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 30;
        Tokens {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// A token for `principal`, valid for `ttl` from `now`; returns it with its expiry.
    pub fn issue(
        &self,
        principal: &Principal,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<(String, Timestamp), TokenError> {
        let expires = now.plus_ms(ttl.as_millis().min(i64::MAX as u128) as i64);
        let claims = Claims {
            sub: principal.participant_id.clone(),
            name: principal.name.clone(),
            role: principal.role.as_str().to_owned(),
            tenant: Some(principal.tenant.clone()),
            exp: expires.unix_ms() / 1000,
            iat: now.unix_ms() / 1000,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| TokenError(format!("cannot sign a token: {e}")))?;
        Ok((token, expires))
    }

    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        use jsonwebtoken::errors::ErrorKind as K;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| {
            TokenError(
                match e.kind() {
                    K::ExpiredSignature => "The token has expired; log in again",
                    K::InvalidSignature => "The token's signature does not match this server's secret",
                    K::InvalidAlgorithm | K::InvalidAlgorithmName => "The token must be signed with HS256",
                    K::MissingRequiredClaim(_) => "The token lacks a required claim (sub, exp)",
                    _ => "The token is malformed",
                }
                .to_owned(),
            )
        })?;
        let claims = data.claims;
        let role: Role = claims.role.parse().map_err(TokenError)?;
        if role == Role::Customer {
            return Err(TokenError("Customers authenticate with customer tokens, not JWTs".to_owned()));
        }
        if claims.sub.is_empty() {
            return Err(TokenError("The token's `sub` is empty".to_owned()));
        }
        Ok(Principal {
            tenant: claims.tenant.filter(|t| !t.is_empty()).unwrap_or_else(|| DEFAULT_TENANT.to_owned()),
            participant_id: claims.sub,
            role,
            name: claims.name,
        })
    }
}

/// `serde(with)` for durations written as text in configuration files (`24h`, `90s`).
pub mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// Parses `30s`, `15m`, `1h`, `7d` (or plain seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number.parse().map_err(|_| format!("`{s}` is not a duration like 30s, 15m, 1h or 7d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("`{s}` is not a duration like 30s, 15m, 1h or 7d")),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn issued_tokens_verify_and_carry_the_principal() {
        let tokens = Tokens::new(b"secret");
        let p = Principal::new("acme", "alice", Role::Agent).with_name("Alice");
        let (token, _) = tokens.issue(&p, Duration::from_secs(60), Timestamp::now()).unwrap();
        assert_eq!(tokens.verify(&token).unwrap(), p);
    }

    #[test]
    fn wrong_secret_expired_and_unsigned_tokens_are_refused() {
        let tokens = Tokens::new(b"secret");
        let p = Principal::new("t", "a", Role::User);
        let (token, _) = tokens.issue(&p, Duration::from_secs(60), Timestamp::now()).unwrap();
        assert!(Tokens::new(b"other").verify(&token).is_err());
        let old = Timestamp::now().plus_ms(-3_600_000);
        let (expired, _) = tokens.issue(&p, Duration::from_secs(60), old).unwrap();
        assert!(tokens.verify(&expired).unwrap_err().0.contains("expired"));
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(br#"{"sub":"a","role":"admin","exp":9999999999}"#);
        assert!(tokens.verify(&format!("{header}.{body}.")).is_err());
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        assert!(parse_duration("soon").is_err());
    }
}
