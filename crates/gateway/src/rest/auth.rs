//! `POST /api/auth/{provider}`: logins that answer `AuthResponse`.

use axum::Json;
use axum::extract::State;
use chatgate_core::{CoreError, DEFAULT_TENANT, Principal, Role};
use serde::Deserialize;

use super::dto::{AuthResponse, AuthUserInfo};
use super::extract::{ApiJson, ApiPath};
use crate::auth::passwords;
use crate::http::problem::ApiError;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct DevLoginRequest {
    username: String,
    password: String,
}

/// Dev login: the first login of a username creates a dev user with that password; later logins
/// must repeat it. Only when the server runs with `--dev`.
pub async fn dev_login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<DevLoginRequest>,
) -> Result<Json<AuthResponse>, ApiError> {
    if !state.config.dev_login {
        return Err(CoreError::forbidden(
            "Auth.DevLoginDisabled",
            "Dev login is disabled; start the server with --dev (or CHATGATE_DEV=true) to enable it",
        )
        .into());
    }
    if body.password.is_empty() || body.password.len() > 1024 {
        return Err(ApiError::validation("password", "must be 1 to 1024 bytes"));
    }
    let core = &state.core;
    let participant = match core.credential(DEFAULT_TENANT, &body.username).await? {
        Some(credential) => {
            let ok = credential.role == Role::Dev
                && passwords::verify(body.password, credential.password_hash.clone()).await;
            if !ok {
                return Err(ApiError::unauthorized("Wrong username or password"));
            }
            let login = Principal::new(DEFAULT_TENANT, &credential.participant_id, Role::Dev);
            core.participant(&login, &credential.participant_id).await?
        }
        None => {
            let hash = passwords::hash(body.password).await.map_err(CoreError::unexpected)?;
            let (_, participant) =
                core.create_credential(DEFAULT_TENANT, &body.username, hash, Role::Dev, None).await?;
            tracing::info!(username = %body.username, id = %participant.id, "dev user created");
            participant
        }
    };
    let principal =
        Principal::new(DEFAULT_TENANT, &participant.id, Role::Dev).with_name(&participant.full_name);
    let (token, expires_at) = state
        .tokens
        .issue(&principal, state.config.login_token_ttl, core.now())
        .map_err(|e| CoreError::unexpected(e.0))?;
    Ok(Json(AuthResponse {
        token,
        expires_at,
        user: AuthUserInfo {
            id: participant.id,
            unique_name: participant.unique_name,
            full_name: participant.full_name,
            avatar: participant.avatar.and_then(|a| a.url),
            role: Some(Role::Dev),
        },
    }))
}

/// Providers other than `dev` (Google, DsAccount; see `auth::providers`): verify the provider's
/// token, create or update the participant, answer `AuthResponse`.
pub async fn provider_login(
    State(state): State<AppState>,
    ApiPath(provider): ApiPath<String>,
    ApiJson(body): ApiJson<crate::auth::providers::ProviderLoginRequest>,
) -> Result<Json<AuthResponse>, ApiError> {
    Ok(Json(crate::auth::providers::login(&state, &provider, body).await?))
}
