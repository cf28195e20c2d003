//! The SignalR hubs of the Chat Gateway (seed 002 sections 12–13): `/hubs/chat` and
//! `/hubs/notifications`, on the `chatgate-signalr` server. The hubs authenticate with the same
//! JWTs as the REST API; what a caller may do is decided by the core.

mod chat;
pub mod dto;
mod notifications;
mod render;

use std::sync::Arc;

use axum::Router;
use chatgate_core::{Core, Principal};
use chatgate_signalr::{Hub, HubOptions, HubUser};

use crate::auth::Tokens;

/// A hub connection's principal. Users are keyed by tenant and participant id, since
/// participant ids are unique only within a tenant.
#[derive(Clone, Debug)]
pub struct Member(pub Principal);

impl HubUser for Member {
    fn user_id(&self) -> String {
        user_key(&self.0.tenant, &self.0.participant_id)
    }
}

pub fn user_key(tenant: &str, participant_id: &str) -> String {
    format!("{tenant}\n{participant_id}")
}

pub fn conversation_group(conversation_id: &str) -> String {
    format!("conversation:{conversation_id}")
}

pub(crate) type Authenticator = Arc<dyn Fn(Option<&str>) -> Result<Member, String> + Send + Sync>;

#[derive(Clone)]
pub struct Hubs {
    pub chat: Hub<Member>,
    pub notifications: Hub<Member>,
}

impl Hubs {
    /// Builds both hubs and starts rendering core events for them.
    pub fn start(
        core: Arc<Core>,
        tokens: Arc<Tokens>,
        options: HubOptions,
        media_urls: crate::files::MediaUrls,
    ) -> Hubs {
        let authenticate: Authenticator = Arc::new(move |token: Option<&str>| {
            let token = token.ok_or_else(|| "An access token is required".to_owned())?;
            tokens.verify(token).map(Member).map_err(|e| e.0)
        });
        let hubs = Hubs {
            chat: chat::hub(core.clone(), authenticate.clone(), options.clone()),
            notifications: notifications::hub(authenticate, options),
        };
        tokio::spawn(render::run(core.subscribe(), hubs.clone(), media_urls));
        hubs
    }

    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new()
            .merge(self.chat.routes("/hubs/chat"))
            .merge(self.notifications.routes("/hubs/notifications"))
    }

    /// Tells every client to reconnect (to this server once it is back, or to another node).
    pub fn close_all(&self, reason: &str) {
        self.chat.close_all(Some(reason), true);
        self.notifications.close_all(Some(reason), true);
    }
}
