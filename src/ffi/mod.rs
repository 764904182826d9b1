//! The C ABI: thin `extern "C"` wrappers over the engine, with the `sa_` prefix.
//!
//! Every exported function: checks its pointer arguments (NULL → `SA_ERR_INVALID_ARGUMENT`),
//! converts C data to engine types, calls the engine, converts the result — all inside
//! [`guard`], which turns errors into an `sa_status` plus a thread-local message and stops any
//! panic at the boundary. No engine logic lives here. This is the only module with `unsafe`.

#![allow(non_camel_case_types)] // C names: sa_store, sa_status, ...

mod ack_tracker;
mod args;
mod batch;
mod batch_calls;
mod clock;
mod codes;
mod compaction;
mod config;
mod conflict;
mod engine;
mod error;
mod meta;
mod sized;
mod store;
mod store_config;
mod types;
mod wire;

pub use types::*;
pub use wire::{sa_buf, sa_operation_error, sa_receive_report};
