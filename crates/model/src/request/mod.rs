//! What a randomuser-compatible API is asked for: the vocabulary of its query (nationalities,
//! fields, the page request) and its limits. The producer (`userstream-ingest`) builds these
//! requests and the local stand-in server (`userstream-users-api`) answers them; both read
//! this one definition.

mod nat;
mod page;

pub use nat::{Gender, Nat};
pub use page::{Field, FieldSet, PageRequest};

/// Highest page the real API accepts; others fall back to page 1.
pub const MAX_PAGE: u32 = 10_000;

/// The real API's limit on `results`.
pub const DEFAULT_MAX_RESULTS: u32 = 5000;
