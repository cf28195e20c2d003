//! DsAccount sign-in: a DsAccount access token is checked with the account server's OAuth 2.0
//! token introspection endpoint (RFC 7662).
//!
//! The contract: chatgate POSTs `application/x-www-form-urlencoded` `token=<token>` and
//! `token_type_hint=access_token` to `CHATGATE_DSACCOUNT_INTROSPECT_URL`, with HTTP Basic
//! authentication when `CHATGATE_DSACCOUNT_CLIENT_ID` / `_CLIENT_SECRET` are set. A 200 answer is
//! JSON: `{"active": true, "sub": "...", "name"?, "email"?, "picture"?, "preferred_username"?,
//! "username"?, "exp"?}`. The token is accepted when `active` is `true`, a subject is named
//! (`sub`, else `username`), and `exp`, if present, has not passed. `active: false` is a refusal
//! (401); any other answer means the account server could not be asked.

use std::time::Duration;

use chatgate_core::Timestamp;
use chatgate_core::service::ExternalIdentity;
use serde::Deserialize;

use super::providers::LoginError;

/// An introspection answer larger than this is refused.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DsAccountSettings {
    pub introspect_url: String,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

#[derive(Deserialize)]
struct Introspection {
    active: bool,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    preferred_username: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    picture: Option<String>,
    #[serde(default)]
    exp: Option<i64>,
}

pub struct DsAccountVerifier {
    settings: DsAccountSettings,
    client: reqwest::Client,
}

impl DsAccountVerifier {
    pub fn new(settings: DsAccountSettings, client: reqwest::Client) -> DsAccountVerifier {
        DsAccountVerifier { settings, client }
    }

    pub fn describe(&self) -> String {
        format!("introspection at {}", self.settings.introspect_url)
    }

    pub async fn verify(&self, token: &str, now: Timestamp) -> Result<ExternalIdentity, LoginError> {
        if token.is_empty() || token.len() > 8192 {
            return Err(LoginError::Rejected("The DsAccount token must be 1 to 8192 bytes".into()));
        }
        let form = serde_urlencoded::to_string([("token", token), ("token_type_hint", "access_token")])
            .map_err(|e| LoginError::Unavailable(e.to_string()))?;
        let mut request = self
            .client
            .post(&self.settings.introspect_url)
            .timeout(Duration::from_secs(10))
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(form);
        if let Some(id) = &self.settings.client_id {
            request = request.basic_auth(id, self.settings.client_secret.as_deref());
        }
        let response = request.send().await.map_err(|e| {
            LoginError::Unavailable(format!("The DsAccount server could not be reached: {e}"))
        })?;
        if !response.status().is_success() {
            return Err(LoginError::Unavailable(format!(
                "The DsAccount introspection endpoint answered {}",
                response.status()
            )));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| LoginError::Unavailable(format!("The DsAccount answer could not be read: {e}")))?;
        if bytes.len() > MAX_ANSWER_BYTES {
            return Err(LoginError::Unavailable("The DsAccount answer is too large".into()));
        }
        let answer: Introspection = serde_json::from_slice(&bytes).map_err(|e| {
            LoginError::Unavailable(format!("The DsAccount answer is not an RFC 7662 introspection: {e}"))
        })?;
        if !answer.active {
            return Err(LoginError::Rejected("The DsAccount token is not active".into()));
        }
        if let Some(exp) = answer.exp
            && exp.saturating_mul(1000) <= now.unix_ms()
        {
            return Err(LoginError::Rejected("The DsAccount token has expired".into()));
        }
        let subject = answer
            .sub
            .clone()
            .or_else(|| answer.username.clone())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| LoginError::Rejected("The DsAccount token names no subject".into()))?;
        Ok(ExternalIdentity {
            provider: "dsaccount".to_owned(),
            subject,
            name: answer.name.or(answer.preferred_username).or(answer.username),
            email: answer.email,
            picture: answer.picture,
        })
    }
}
