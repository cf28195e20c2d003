use super::Core;
use crate::error::{CoreError, CoreResult};
use crate::ids::new_id;
use crate::model::{Credential, MediaReference, Participant, ParticipantKind};
use crate::policy;
use crate::principal::{Principal, Role};
use crate::store::StoreError;
use crate::validate::Check;

/// `POST /api/participants`: create or update by id.
#[derive(Clone, Debug, PartialEq)]
pub struct ParticipantInput {
    pub id: String,
    pub unique_name: String,
    pub full_name: String,
    pub avatar: Option<MediaReference>,
    pub gender: Option<String>,
}

impl Core {
    pub async fn upsert_participant(
        &self,
        principal: &Principal,
        input: ParticipantInput,
    ) -> CoreResult<Participant> {
        let l = &self.limits;
        let mut check = Check::new();
        check.id("id", &input.id, l.max_id_chars);
        check.id("uniqueName", &input.unique_name, l.max_name_chars);
        check.text("fullName", &input.full_name, l.max_name_chars, true);
        check.opt_text("gender", input.gender.as_deref(), 32);
        if let Some(a) = &input.avatar {
            check.media("avatar", a, l);
        }
        check.finish()?;

        let existing = self.store.participant(&principal.tenant, &input.id).await?;
        policy::may_write_participant(principal, &input.id, existing.as_ref())?;
        let now = self.clock.now();
        let participant = Participant {
            tenant: principal.tenant.clone(),
            id: input.id,
            unique_name: input.unique_name,
            full_name: input.full_name.trim().to_owned(),
            avatar: input.avatar,
            gender: input.gender,
            kind: existing.as_ref().map_or(ParticipantKind::User, |p| p.kind),
            created_at: existing.as_ref().map_or(now, |p| p.created_at),
            updated_at: now,
        };
        self.store.upsert_participant(&participant).await.map_err(|e| match e {
            StoreError::Conflict(_) => CoreError::conflict(
                "Participant.UniqueNameTaken",
                format!("The unique name '{}' belongs to another participant", participant.unique_name),
            ),
            other => other.into(),
        })
    }

    pub async fn participant(&self, principal: &Principal, id: &str) -> CoreResult<Participant> {
        self.store.participant(&principal.tenant, id).await?.ok_or_else(|| participant_not_found(id))
    }

    pub async fn participant_by_unique_name(
        &self,
        principal: &Principal,
        unique_name: &str,
    ) -> CoreResult<Participant> {
        self.store.participant_by_unique_name(&principal.tenant, unique_name).await?.ok_or_else(|| {
            CoreError::not_found(
                "Participant.NotFound",
                format!("No participant has the unique name '{unique_name}'"),
            )
        })
    }

    /// The participants among `ids` that exist, in the order asked; unknown ids are skipped.
    pub async fn participants(&self, principal: &Principal, ids: &[String]) -> CoreResult<Vec<Participant>> {
        if ids.len() > self.limits.max_batch_ids {
            return Err(CoreError::invalid(
                "ids",
                format!("must have at most {} entries", self.limits.max_batch_ids),
            ));
        }
        let found = self.store.participants(&principal.tenant, ids).await?;
        let mut seen = std::collections::HashSet::new();
        Ok(ids
            .iter()
            .filter(|id| seen.insert(id.as_str()))
            .filter_map(|id| found.iter().find(|p| &p.id == id).cloned())
            .collect())
    }

    /// The principal's participant row, created from its credential on first use.
    pub async fn ensure_participant(&self, principal: &Principal) -> CoreResult<Participant> {
        if let Some(p) = self.store.participant(&principal.tenant, &principal.participant_id).await? {
            return Ok(p);
        }
        let now = self.clock.now();
        let mut participant = Participant {
            tenant: principal.tenant.clone(),
            id: principal.participant_id.clone(),
            unique_name: principal.participant_id.clone(),
            full_name: principal.name.clone().unwrap_or_else(|| principal.participant_id.clone()),
            avatar: None,
            gender: None,
            kind: ParticipantKind::for_role(principal.role),
            created_at: now,
            updated_at: now,
        };
        match self.store.insert_participant_if_absent(&participant).await {
            Err(StoreError::Conflict(_)) => {
                // The id is free but someone else uses it as a unique name.
                participant.unique_name = format!("{}-{}", principal.participant_id, &new_id()[20..]);
                Ok(self.store.insert_participant_if_absent(&participant).await?)
            }
            other => Ok(other?),
        }
    }

    /// The credential for `username`, to check a password against.
    pub async fn credential(&self, tenant: &str, username: &str) -> CoreResult<Option<Credential>> {
        Ok(self.store.credential(tenant, username).await?)
    }

    /// Creates a login: a participant (named by a new id) with a username and password hash.
    pub async fn create_credential(
        &self,
        tenant: &str,
        username: &str,
        password_hash: String,
        role: Role,
        full_name: Option<String>,
    ) -> CoreResult<(Credential, Participant)> {
        let mut check = Check::new();
        check.id("username", username, self.limits.max_name_chars);
        check.opt_text("name", full_name.as_deref(), self.limits.max_name_chars);
        check.finish()?;
        let now = self.clock.now();
        let participant = Participant {
            tenant: tenant.to_owned(),
            id: new_id(),
            unique_name: username.to_owned(),
            full_name: full_name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| username.to_owned()),
            avatar: None,
            gender: None,
            kind: ParticipantKind::for_role(role),
            created_at: now,
            updated_at: now,
        };
        let credential = Credential {
            tenant: tenant.to_owned(),
            username: username.to_owned(),
            password_hash,
            participant_id: participant.id.clone(),
            role,
            created_at: now,
        };
        self.store.insert_credential(&credential, &participant).await.map_err(|e| match e {
            StoreError::Conflict(_) => {
                CoreError::conflict("User.UsernameTaken", format!("The username '{username}' is taken"))
            }
            other => other.into(),
        })?;
        Ok((credential, participant))
    }
}

pub(super) fn participant_not_found(id: &str) -> CoreError {
    CoreError::not_found("Participant.NotFound", format!("Participant '{id}' was not found"))
        .with_detail("participantId", id)
}
