//! chatgate-core: the domain of chatgate and its rules.
//!
//! Participants, conversations, messages and their blocks; who may do what; the use cases that
//! every protocol door calls; the events those use cases publish. Nothing here performs I/O or
//! knows a wire protocol: storage and event delivery are traits implemented elsewhere, and the
//! doors (REST, SignalR, Socket.IO, WebSocket) translate to and from their own formats.
//!
//! # Layout
//! - [`model`]: the nouns (participants, conversations, messages, blocks).
//! - [`principal`]: who is acting, as the doors hand it over after authentication.
//! - [`policy`]: authorization, decided only here.
//! - [`validate`], [`limits`]: input rules and every size limit.
//! - [`service`]: [`Core`], one method per use case; commits through [`Store`], then publishes
//!   [`Event`]s on the [`Bus`].
//! - [`store`], [`bus`], [`clock`]: the ports the core is given.
//! - [`event`]: what happened, with what each door needs to render it.
//! - [`cursor`], [`decode`], [`time`], [`ids`], [`text`], [`error`]: small shared vocabulary.

pub mod bus;
pub mod clock;
pub mod cursor;
pub mod decode;
pub mod error;
pub mod event;
pub mod ids;
pub mod limits;
pub mod model;
pub mod policy;
pub mod principal;
pub mod service;
pub mod store;
pub mod text;
pub mod time;
pub mod validate;

pub use bus::{Bus, BusError, EventStream};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{CoreError, CoreResult, ErrorKind, FieldError};
pub use event::{Event, EventKind};
pub use ids::{DEFAULT_TENANT, TenantId};
pub use limits::Limits;
pub use principal::{Principal, Role};
pub use service::{Core, Health, Page};
pub use store::{Store, StoreError, StoreResult};
pub use time::Timestamp;
