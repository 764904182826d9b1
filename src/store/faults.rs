//! Fault injection for the WAL: makes appends and syncs fail the way a failing disk does, so
//! tests (and chaos drills) can prove that failures become errors and never lose data that was
//! reported written.

use std::io;
use std::sync::Mutex;

#[derive(Debug, Default)]
struct FaultState {
    /// Bytes the "disk" can still take; `None`: unlimited.
    space_left: Option<u64>,
    failing_syncs: u32,
    short_writes: u32,
    crash_at: Option<CompactionStep>,
}

/// A point inside a compaction, for [`WalFaults::crash_compaction_at`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompactionStep {
    /// The next segment is created as `<wal>.next`; the active one is not renamed yet.
    NextCreated,
    /// The active segment is renamed to `<wal>.closed`; the next one is not in its place yet.
    ClosedRenamed,
    /// Rotation is done; nothing is folded yet.
    Rotated,
    /// The new checkpoint is written and synced as `<wal>.ckpt.tmp`, not renamed yet.
    CheckpointWritten,
    /// The new checkpoint is in place; the closed segment is not removed yet.
    CheckpointInstalled,
}

/// What the WAL may write of the next frame.
pub(crate) enum WritePermit {
    All,
    /// Write this many bytes, then fail with the error.
    Partial(usize, io::Error),
}

/// Faults to inject into a WAL. Give it to [`super::StoreConfig::with_faults`]; change it at
/// any time from any thread.
#[derive(Debug, Default)]
pub struct WalFaults {
    state: Mutex<FaultState>,
}

impl WalFaults {
    pub fn new() -> WalFaults {
        WalFaults::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The disk fills up after `bytes` more bytes: the append that crosses the limit writes
    /// what fits, then fails with "no space left on device".
    pub fn disk_full_after(&self, bytes: u64) {
        self.state().space_left = Some(bytes);
    }

    /// The next `count` fdatasync calls fail with an I/O error.
    pub fn fail_next_syncs(&self, count: u32) {
        self.state().failing_syncs = count;
    }

    /// The next `count` appends write half their bytes, then fail with an I/O error.
    pub fn short_next_writes(&self, count: u32) {
        self.state().short_writes = count;
    }

    /// The next compaction stops dead at `step`, leaving the files exactly as a crash there
    /// would (nothing is undone) and the store refusing every write until it is reopened, as
    /// a crashed process would. One-shot.
    pub fn crash_compaction_at(&self, step: CompactionStep) {
        self.state().crash_at = Some(step);
    }

    /// Removes every fault.
    pub fn clear(&self) {
        *self.state() = FaultState::default();
    }

    pub(crate) fn before_write(&self, len: usize) -> WritePermit {
        let mut state = self.state();
        if state.short_writes > 0 {
            state.short_writes -= 1;
            return WritePermit::Partial(len / 2, io::Error::other("injected short write"));
        }
        match state.space_left {
            Some(left) if (len as u64) > left => {
                state.space_left = Some(0);
                WritePermit::Partial(left as usize, io::Error::from_raw_os_error(28))
                // ENOSPC
            }
            Some(left) => {
                state.space_left = Some(left - len as u64);
                WritePermit::All
            }
            None => WritePermit::All,
        }
    }

    /// Whether the compaction must stop dead at `step` (see [`WalFaults::crash_compaction_at`]).
    pub(crate) fn crashes_at(&self, step: CompactionStep) -> bool {
        let mut state = self.state();
        if state.crash_at == Some(step) {
            state.crash_at = None;
            return true;
        }
        false
    }

    pub(crate) fn before_sync(&self) -> io::Result<()> {
        let mut state = self.state();
        if state.failing_syncs > 0 {
            state.failing_syncs -= 1;
            return Err(io::Error::other("injected fdatasync failure"));
        }
        Ok(())
    }
}
