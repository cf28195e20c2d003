//! Password logins of agents and admins: the OAuth2 password grant of the ChatOmni dashboard
//! (seed 000) and the admins' user management. Hashing and verifying passwords is the door's
//! (it is slow and needs a hashing library); the rules are here.

use std::future::Future;

use super::Core;
use crate::error::{CoreError, CoreResult};
use crate::model::{Credential, Participant};
use crate::policy;
use crate::principal::{Principal, Role};
use crate::validate::Check;

/// A login as an admin asks for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewLogin {
    pub username: String,
    /// `agent` (when absent) or `admin`.
    pub role: Option<String>,
    pub name: Option<String>,
}

/// Bytes of a password, at least and at most (`chatgate user add` asks the same).
const MIN_PASSWORD_BYTES: usize = 8;
const MAX_PASSWORD_BYTES: usize = 1024;

impl Core {
    /// Logs in with a username and password; `verify(hash)` checks the password against the
    /// stored hash. Usernames are looked up in every tenant unless `tenant` names one; a
    /// username used in several tenants needs it.
    pub async fn password_login<F, Fut>(
        &self,
        username: &str,
        tenant: Option<&str>,
        verify: F,
    ) -> CoreResult<Principal>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = bool>,
    {
        let mut check = Check::new();
        check.text("username", username, self.limits.max_name_chars, true);
        if let Some(t) = tenant {
            check.id("tenant", t, self.limits.max_id_chars);
        }
        check.finish()?;
        let found: Vec<Credential> = match tenant {
            Some(t) => self.store.credential(t, username).await?.into_iter().collect(),
            None => self.store.credentials_named(username, 2).await?,
        };
        let credential = match found.as_slice() {
            [one] => one,
            [] => return Err(refused()),
            _ => {
                return Err(CoreError::invalid(
                    "tenant",
                    "is required: this username exists in several tenants",
                ));
            }
        };
        if !verify(credential.password_hash.clone()).await {
            return Err(refused());
        }
        let name = self
            .store
            .participant(&credential.tenant, &credential.participant_id)
            .await?
            .map(|p| p.full_name)
            .unwrap_or_else(|| credential.username.clone());
        Ok(Principal::new(&credential.tenant, &credential.participant_id, credential.role).with_name(name))
    }

    /// An admin creates a password login for an agent or another admin of their tenant.
    /// Usernames are unique across tenants, so that a password grant needs no tenant. `hash`
    /// turns the password into its stored form; it runs only once everything else is known to
    /// be acceptable.
    pub async fn create_login<F, Fut>(
        &self,
        principal: &Principal,
        input: NewLogin,
        password: String,
        hash: F,
    ) -> CoreResult<(Credential, Participant)>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<String, String>>,
    {
        policy::may_administer_tenant(principal)?;
        let mut check = Check::new();
        check.id("username", &input.username, self.limits.max_name_chars);
        let role = match input.role.as_deref().map(str::trim) {
            None | Some("") => Some(Role::Agent),
            Some(r) => r.parse::<Role>().ok().filter(|r| matches!(r, Role::Agent | Role::Admin)),
        };
        if role.is_none() {
            check.fail("role", "must be agent or admin");
        }
        check.opt_text("name", input.name.as_deref(), self.limits.max_name_chars);
        if password.len() < MIN_PASSWORD_BYTES || password.len() > MAX_PASSWORD_BYTES {
            check.fail("password", format!("must be {MIN_PASSWORD_BYTES} to {MAX_PASSWORD_BYTES} bytes"));
        }
        check.finish()?;
        let role = role.unwrap_or(Role::Agent);
        if !self.store.credentials_named(&input.username, 1).await?.is_empty() {
            return Err(username_taken(&input.username));
        }
        let password_hash = hash(password).await.map_err(CoreError::unexpected)?;
        self.create_credential(&principal.tenant, &input.username, password_hash, role, input.name).await
    }
}

fn refused() -> CoreError {
    CoreError::unauthorized("Login.Refused", "Wrong username or password")
}

fn username_taken(username: &str) -> CoreError {
    CoreError::conflict("User.UsernameTaken", format!("The username '{username}' is taken"))
}
