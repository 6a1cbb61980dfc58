//! The headers of a dead-letter message: written by the producer's dead-letter writer
//! (`userstream-ingest`), read by the console and by anyone who replays the dead-letter topic.
//! Declared once, here, beside the rejection reasons they carry.

/// Human-readable reason.
pub const REASON: &str = "reason";
/// Stable machine-readable code (`invalid_uuid`, `not_json`, `http_503`, ...).
pub const ERROR_CODE: &str = "error_code";
/// The request URL.
pub const SOURCE_URL: &str = "source_url";
/// The seed.
pub const SOURCE_SEED: &str = "source_seed";
/// The page.
pub const SOURCE_PAGE: &str = "source_page";
/// Index in `results[]`; only on record-level entries.
pub const SOURCE_INDEX: &str = "source_index";
/// [`SCOPE_RECORD`] or [`SCOPE_PAGE`].
pub const SCOPE: &str = "scope";
/// On page entries: the size of the (redacted) body before it was cut; absent when it was kept
/// whole.
pub const BODY_BYTES: &str = "body_bytes";

/// [`SCOPE`] of an entry for one `results[]` entry.
pub const SCOPE_RECORD: &str = "record";
/// [`SCOPE`] of an entry for a whole response that could not be read.
pub const SCOPE_PAGE: &str = "page";
