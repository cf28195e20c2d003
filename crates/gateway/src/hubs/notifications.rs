//! NotificationHub (`/hubs/notifications`): no methods. A connection is reachable as its user as
//! soon as its handshake completes (the seed's group `participant:{userId}`); the renderer sends
//! it everything addressed to that participant.

use chatgate_signalr::{Hub, HubOptions};

use super::Member;

pub fn hub(authenticate: super::Authenticator, options: HubOptions) -> Hub<Member> {
    Hub::builder("notifications", move |token| authenticate(token)).options(options).build()
}
