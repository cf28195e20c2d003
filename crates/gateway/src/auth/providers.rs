//! Outside login providers (Google, DsAccount): each verifies its own kind of token into an
//! [`ExternalIdentity`]; the core turns that into a participant; the answer is chatgate's own
//! token, as for every login.

use std::time::Duration;

use chatgate_core::service::ExternalIdentity;
use chatgate_core::{CoreError, DEFAULT_TENANT, Principal, Role};
use serde::Deserialize;

use super::dsaccount::{DsAccountSettings, DsAccountVerifier};
use super::google::{GoogleSettings, GoogleVerifier};
use crate::http::problem::ApiError;
use crate::rest::dto::{AuthResponse, AuthUserInfo};
use crate::state::AppState;

/// Why a provider did not vouch for a token.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The token is not good (401); the message is safe to show.
    #[error("{0}")]
    Rejected(String),
    /// The provider could not be asked (its server or key set is unavailable).
    #[error("{0}")]
    Unavailable(String),
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Rejected(why) => ApiError::unauthorized(why),
            LoginError::Unavailable(why) => {
                tracing::warn!(error = %why, "login provider unavailable");
                ApiError::from(CoreError::unexpected(
                    "The login provider could not be reached; try again later",
                ))
            }
        }
    }
}

/// The providers this server is configured for.
#[derive(Default)]
pub struct LoginProviders {
    pub google: Option<GoogleVerifier>,
    pub dsaccount: Option<DsAccountVerifier>,
}

impl LoginProviders {
    pub fn new(google: Option<&GoogleSettings>, dsaccount: Option<&DsAccountSettings>) -> LoginProviders {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "login client: falling back to the default HTTP client");
                reqwest::Client::new()
            });
        LoginProviders {
            google: google.map(|s| GoogleVerifier::new(s.clone(), client.clone())),
            dsaccount: dsaccount.map(|s| DsAccountVerifier::new(s.clone(), client)),
        }
    }
}

/// `LoginRequest`: Google sends `{idToken}`, DsAccount `{token}`; either name is accepted.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderLoginRequest {
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    token: Option<String>,
}

/// Logs in with `provider`: verifies the token, creates or updates the participant, and answers
/// `AuthResponse` with a chatgate token (`role=user`; `user.role` is null, as seed 002 says for
/// these logins).
pub async fn login(
    state: &AppState,
    provider: &str,
    body: ProviderLoginRequest,
) -> Result<AuthResponse, ApiError> {
    let providers = &state.login_providers;
    let token = body.id_token.or(body.token).filter(|t| !t.is_empty());
    let identity: ExternalIdentity = match provider {
        "google" => {
            let google = providers
                .google
                .as_ref()
                .ok_or_else(|| not_configured("Google", "CHATGATE_GOOGLE_CLIENT_ID"))?;
            let token = token.ok_or_else(|| ApiError::validation("idToken", "is required"))?;
            google.verify(&token).await?
        }
        "dsaccount" => {
            let ds = providers
                .dsaccount
                .as_ref()
                .ok_or_else(|| not_configured("DsAccount", "CHATGATE_DSACCOUNT_INTROSPECT_URL"))?;
            let token = token.ok_or_else(|| ApiError::validation("token", "is required"))?;
            ds.verify(&token, state.core.now()).await?
        }
        other => {
            return Err(CoreError::not_found(
                "Auth.UnknownProvider",
                format!("Unknown login provider '{other}' (known: dev, google, dsaccount)"),
            )
            .into());
        }
    };
    let participant = state.core.external_login(DEFAULT_TENANT, identity).await?;
    let principal =
        Principal::new(DEFAULT_TENANT, &participant.id, Role::User).with_name(&participant.full_name);
    let (token, expires_at) = state
        .tokens
        .issue(&principal, state.config.login_token_ttl, state.core.now())
        .map_err(|e| CoreError::unexpected(e.0))?;
    tracing::info!(provider, participant = %participant.id, "login");
    Ok(AuthResponse {
        token,
        expires_at,
        user: AuthUserInfo {
            id: participant.id,
            unique_name: participant.unique_name,
            full_name: participant.full_name,
            avatar: participant.avatar.and_then(|a| a.url),
            role: None,
        },
    })
}

fn not_configured(name: &str, variable: &str) -> ApiError {
    CoreError::not_found(
        "Auth.ProviderNotConfigured",
        format!("{name} login is not configured: set {variable}"),
    )
    .into()
}
