//! The context an engine is built from: a store and a config.

use super::config::SyncConfig;
use super::error::SyncError;
use crate::node::NodeId;
use crate::store::StoreEngine;

/// Wires a sync engine to its store and settings.
#[derive(Clone, Debug)]
pub struct SyncContext {
    pub store: StoreEngine,
    pub config: SyncConfig,
}

impl SyncContext {
    /// A context over `store` (shared: the engine keeps it alive).
    pub fn new(store: &StoreEngine, config: SyncConfig) -> SyncContext {
        SyncContext {
            store: store.clone(),
            config,
        }
    }

    /// Checks the settings; the error names what is wrong.
    pub fn validate(&self) -> Result<NodeId, SyncError> {
        self.config.validate()
    }

    pub fn is_valid(&self) -> bool {
        self.validate().is_ok()
    }
}
