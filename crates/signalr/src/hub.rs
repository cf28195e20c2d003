//! Defining a hub: a set of typed methods, plus what to do when a connection arrives or leaves.
//!
//! ```ignore
//! let hub = Hub::builder("chat", authenticate)
//!     .method("Echo", |caller: Caller<User>, (text,): (String,)| async move { Ok(text) })
//!     .build();
//! let router = hub.router();
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::registry::{ConnectionId, Hub};

/// Who a connection belongs to. Hubs target users by [`HubUser::user_id`].
pub trait HubUser: Clone + Send + Sync + 'static {
    fn user_id(&self) -> String;
}

/// Turns the access token of a request (`access_token` query parameter or `Authorization:
/// Bearer`) into the connection's user, or refuses it with a reason.
pub type Authenticate<U> = Arc<dyn Fn(Option<&str>) -> Result<U, String> + Send + Sync>;

/// An error a hub method reports to its caller: the completion's `error`, word for word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubError(pub String);

impl HubError {
    pub fn new(message: impl Into<String>) -> Self {
        HubError(message.into())
    }
}

/// The connection that invoked a method, and the hub it is on.
pub struct Caller<U: HubUser> {
    pub connection_id: ConnectionId,
    pub user: U,
    pub hub: Hub<U>,
}

impl<U: HubUser> Caller<U> {
    pub fn join_group(&self, group: &str) {
        self.hub.add_to_group(&self.connection_id, group);
    }

    pub fn leave_group(&self, group: &str) {
        self.hub.remove_from_group(&self.connection_id, group);
    }

    /// Invokes `target` on this connection only.
    pub fn send<A: Serialize + ?Sized>(&self, target: &str, arguments: &A) {
        self.hub.send_to_connection(&self.connection_id, target, arguments);
    }
}

/// The arguments of a hub method: a tuple of deserializable values, bound by position.
pub trait HubArgs: Sized + Send + 'static {
    const ARITY: usize;
    fn bind(arguments: Vec<Value>) -> Result<Self, String>;
}

macro_rules! hub_args {
    ($n:literal; $($t:ident $i:tt),*) => {
        impl<$($t: DeserializeOwned + Send + 'static),*> HubArgs for ($($t,)*) {
            const ARITY: usize = $n;
            #[allow(unused_mut, unused_variables)]
            fn bind(arguments: Vec<Value>) -> Result<Self, String> {
                let mut values = arguments.into_iter();
                Ok(($(
                    serde_json::from_value::<$t>(values.next().unwrap_or(Value::Null))
                        .map_err(|e| format!("Error binding argument {}: {e}", $i + 1))?,
                )*))
            }
        }
    };
}
hub_args!(0;);
hub_args!(1; A 0);
hub_args!(2; A 0, B 1);
hub_args!(3; A 0, B 1, C 2);
hub_args!(4; A 0, B 1, C 2, D 3);

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What went wrong invoking a method, in the words the .NET server uses.
pub(crate) enum InvokeError {
    Binding(String),
    Hub(String),
}

pub(crate) type ErasedMethod<U> =
    Arc<dyn Fn(Caller<U>, Vec<Value>) -> BoxFuture<Result<Option<Value>, InvokeError>> + Send + Sync>;
pub(crate) type ConnectionHook<U> = Arc<dyn Fn(Caller<U>) -> BoxFuture<()> + Send + Sync>;

/// Timeouts and sizes, with the ASP.NET Core defaults.
#[derive(Clone, Debug)]
pub struct HubOptions {
    /// A ping goes out when nothing else was sent for this long.
    pub keep_alive: Duration,
    /// A connection that sends nothing (not even a ping) for this long is closed.
    pub client_timeout: Duration,
    /// Time allowed from connecting to finishing the handshake.
    pub handshake_timeout: Duration,
    /// Largest message a client may send; larger invocations are answered with an error.
    pub max_message_bytes: usize,
    /// How long a long poll waits for messages before answering empty.
    pub poll_timeout: Duration,
    /// Messages queued for one connection before it counts as too slow and is closed.
    pub outbound_queue: usize,
}

impl Default for HubOptions {
    fn default() -> Self {
        HubOptions {
            keep_alive: Duration::from_secs(15),
            client_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(15),
            max_message_bytes: 32 * 1024,
            poll_timeout: Duration::from_secs(90),
            outbound_queue: 1024,
        }
    }
}

impl HubOptions {
    /// Beyond this a transport refuses to read at all and closes the connection.
    pub(crate) fn hard_limit(&self) -> usize {
        self.max_message_bytes.saturating_mul(4).max(1024 * 1024)
    }
}

pub struct HubBuilder<U: HubUser> {
    pub(crate) name: String,
    pub(crate) authenticate: Authenticate<U>,
    pub(crate) methods: HashMap<String, (String, ErasedMethod<U>)>,
    pub(crate) on_connected: Option<ConnectionHook<U>>,
    pub(crate) on_disconnected: Option<ConnectionHook<U>>,
    pub(crate) options: HubOptions,
}

impl<U: HubUser> HubBuilder<U> {
    pub(crate) fn new(name: &str, authenticate: Authenticate<U>) -> Self {
        HubBuilder {
            name: name.to_owned(),
            authenticate,
            methods: HashMap::new(),
            on_connected: None,
            on_disconnected: None,
            options: HubOptions::default(),
        }
    }

    pub fn options(mut self, options: HubOptions) -> Self {
        self.options = options;
        self
    }

    /// Adds a method, found by its name case-insensitively. Its arguments are bound by position;
    /// a wrong count or type answers the invocation with an error and runs nothing.
    pub fn method<A, R, F, Fut>(mut self, name: &str, handler: F) -> Self
    where
        A: HubArgs,
        R: Serialize + Send + 'static,
        F: Fn(Caller<U>, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, HubError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let erased: ErasedMethod<U> = Arc::new(move |caller, arguments| {
            let handler = handler.clone();
            Box::pin(async move {
                if arguments.len() != A::ARITY {
                    return Err(InvokeError::Binding(format!(
                        "Invocation provides {} argument(s) but target expects {}.",
                        arguments.len(),
                        A::ARITY
                    )));
                }
                let args = A::bind(arguments).map_err(InvokeError::Binding)?;
                let result = handler(caller, args).await.map_err(|e| InvokeError::Hub(e.0))?;
                let value = serde_json::to_value(result).map_err(|e| InvokeError::Hub(e.to_string()))?;
                Ok((!value.is_null()).then_some(value))
            })
        });
        self.methods.insert(name.to_lowercase(), (name.to_owned(), erased));
        self
    }

    pub fn on_connected<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(Caller<U>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_connected = Some(Arc::new(move |caller| Box::pin(hook(caller))));
        self
    }

    pub fn on_disconnected<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(Caller<U>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_disconnected = Some(Arc::new(move |caller| Box::pin(hook(caller))));
        self
    }

    pub fn build(self) -> Hub<U> {
        Hub::from_builder(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_bind_by_position_and_name_the_bad_one() {
        let (a, b) = <(String, u32)>::bind(vec!["x".into(), 5.into()]).unwrap();
        assert_eq!((a.as_str(), b), ("x", 5));
        let err = <(String, u32)>::bind(vec!["x".into(), "five".into()]).unwrap_err();
        assert!(err.starts_with("Error binding argument 2"), "{err}");
        assert_eq!(<(String,)>::ARITY, 1);
        assert_eq!(<()>::ARITY, 0);
    }
}
