//! One module per sub-command.

pub mod bench;
pub mod chaos;
pub mod common;
pub mod console;
pub mod demo;
pub mod json_schema;
pub mod produce;
pub mod setup;
pub mod stack;
pub mod stream;
pub mod users_api;
