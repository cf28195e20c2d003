//! HTTP plumbing shared by the doors: request ids, rate limits, and the RFC 7807 error answer.

pub mod problem;
pub mod ratelimit;
pub mod trace;
