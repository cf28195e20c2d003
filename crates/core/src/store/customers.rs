//! The store's customer area: customers, their channel identities and their tokens.

use async_trait::async_trait;

use super::StoreResult;
use crate::model::{Conversation, Customer, CustomerChannel, CustomerIdentity, CustomerQuery};
use crate::time::Timestamp;

#[async_trait]
pub trait CustomerStore: Send + Sync + 'static {
    /// The customer who has `identity`; if nobody has it, `new` is created (with its participant
    /// and that identity) and returned. Atomic: one identity is never two customers.
    async fn customer_for_identity(
        &self,
        identity: &CustomerIdentity,
        new: &Customer,
    ) -> StoreResult<Customer>;
    /// Creates a customer with its participant and identities; `Conflict` if an identity is taken.
    async fn create_customer(&self, customer: &Customer) -> StoreResult<()>;
    async fn customer(&self, tenant: &str, id: &str) -> StoreResult<Option<Customer>>;
    /// Replaces the customer's fields (not its identities) and its participant's name.
    async fn update_customer(&self, customer: &Customer) -> StoreResult<()>;
    /// A page of customers matching `query`, and how many match in all.
    async fn customers(&self, tenant: &str, query: &CustomerQuery) -> StoreResult<(Vec<Customer>, u64)>;
    async fn touch_customer(&self, tenant: &str, id: &str, at: Timestamp) -> StoreResult<()>;
    /// Keeps a token's hash until it expires (and forgets expired ones). The token speaks for the
    /// customer on `channel`.
    async fn insert_customer_token(
        &self,
        customer: &Customer,
        channel: CustomerChannel,
        token_hash: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// The customer whose unexpired token has this hash, and the channel it was issued for.
    async fn customer_by_token(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<(Customer, CustomerChannel)>>;
    /// The customer's channel conversations, latest activity first.
    async fn customer_conversations(&self, tenant: &str, customer_id: &str)
    -> StoreResult<Vec<Conversation>>;
}
