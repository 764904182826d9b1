//! The local store: validated keys and values, put/delete operations, entries with tombstones,
//! and the write-ahead log that makes them survive crashes. A layer above may own the store and
//! log its own bytes with the writes (see `extension.rs`); the store never reads them.

mod checkpoint;
mod compaction;
pub mod config;
pub mod engine;
pub mod entry;
pub mod error;
mod extension;
pub mod faults;
mod files;
mod frame;
pub mod key;
mod key_index;
mod lock;
pub mod operation;
mod record;
mod recovery;
mod sequence;
mod slot_map;
mod table;
pub mod value;
mod wal;

pub use compaction::{CompactionReport, CompactionStats};
pub use config::{Durability, StoreConfig};
pub use engine::{ApplyResult, Entries, StoreEngine, ENTRIES_CHUNK_KEYS};
pub use entry::{Entry, WriteId, WriteRef};
pub use error::StoreError;
pub(crate) use extension::{Folded, Handover, Logged, SharedWrite};
pub use faults::{CompactionStep, WalFaults};
pub use files::store_files;
pub use key::{Key, MAX_KEY_BYTES};
pub use operation::{Operation, OperationKind};
pub(crate) use record::WriteRecord;
pub use value::{Value, MAX_VALUE_BYTES};
pub use wal::ReplayReport;
