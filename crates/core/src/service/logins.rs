//! Logins through outside identity providers (Google, DsAccount): the door verifies the
//! provider's token; here the verified identity becomes (or updates) a participant.

use super::Core;
use crate::error::{CoreError, CoreResult};
use crate::model::{MediaReference, Participant, ParticipantKind};
use crate::store::StoreError;
use crate::validate::Check;

/// Who the provider says the caller is. `subject` is the provider's stable id for them.
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalIdentity {
    /// A short lowercase name: `google`, `dsaccount`.
    pub provider: String,
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub picture: Option<String>,
}

impl Core {
    /// Creates the participant `{provider}-{subject}` on first login and refreshes its name and
    /// picture on later ones. The unique name is the e-mail address when it is free, else the id;
    /// once chosen it does not change.
    pub async fn external_login(&self, tenant: &str, identity: ExternalIdentity) -> CoreResult<Participant> {
        let l = &self.limits;
        let id = format!("{}-{}", identity.provider, identity.subject);
        let mut check = Check::new();
        check.id("sub", &id, l.max_id_chars);
        check.finish()?;
        let clean = |s: &Option<String>, max: usize| {
            s.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.chars().count() <= max)
                .map(str::to_owned)
        };
        let email = clean(&identity.email, l.max_name_chars).filter(|e| !e.contains(char::is_whitespace));
        let full_name = clean(&identity.name, l.max_name_chars)
            .or_else(|| email.clone())
            .unwrap_or_else(|| identity.subject.clone());
        let avatar = clean(&identity.picture, l.max_url_chars)
            .map(|url| MediaReference { storage_key: None, url: Some(url) });

        let existing = self.store.participant(tenant, &id).await?;
        let now = self.clock.now();
        let mut participant = Participant {
            tenant: tenant.to_owned(),
            id: id.clone(),
            unique_name: existing
                .as_ref()
                .map(|p| p.unique_name.clone())
                .or_else(|| email.clone())
                .unwrap_or_else(|| id.clone()),
            full_name,
            avatar: avatar.or_else(|| existing.as_ref().and_then(|p| p.avatar.clone())),
            gender: existing.as_ref().and_then(|p| p.gender.clone()),
            kind: existing.as_ref().map_or(ParticipantKind::User, |p| p.kind),
            created_at: existing.as_ref().map_or(now, |p| p.created_at),
            updated_at: now,
        };
        match self.store.upsert_participant(&participant).await {
            Ok(p) => Ok(p),
            Err(StoreError::Conflict(_)) if participant.unique_name != id => {
                // The e-mail address is someone else's unique name: fall back to the id.
                participant.unique_name = id;
                self.store.upsert_participant(&participant).await.map_err(|e| match e {
                    StoreError::Conflict(_) => CoreError::conflict(
                        "Participant.UniqueNameTaken",
                        "Another participant's unique name is this login's id",
                    ),
                    other => other.into(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }
}
