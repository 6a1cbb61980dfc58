//! End-to-end tests against the running stack live in `tests/*.rs` files.
