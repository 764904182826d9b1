//! `verify`: is the WAL (and its sequence file) exactly what a clean shutdown leaves?

use std::path::Path;

use serde_json::json;
use softadastra_sync::store::{StoreConfig, StoreEngine, StoreError};

/// What verification found.
enum Verdict {
    Clean {
        records: u64,
    },
    TornTail {
        offset: u64,
        bytes: u64,
        reason: &'static str,
        records: u64,
    },
    Corrupt {
        file: String,
        offset: u64,
        reason: String,
    },
}

/// Prints the verdict; returns the exit status (0 clean, 1 damaged).
pub fn run(wal: &Path, json: bool) -> Result<u8, String> {
    let verdict = match StoreEngine::open(StoreConfig::read_only(wal)) {
        Ok(store) => {
            let report = store.replay_report();
            match report.torn_tail {
                None => Verdict::Clean {
                    records: report.records,
                },
                Some(reason) => {
                    let size = std::fs::metadata(wal).map_err(|e| e.to_string())?.len();
                    Verdict::TornTail {
                        offset: size - report.dropped_bytes,
                        bytes: report.dropped_bytes,
                        reason,
                        records: report.records,
                    }
                }
            }
        }
        Err(StoreError::Corrupt {
            path,
            offset,
            reason,
        }) => Verdict::Corrupt {
            file: path.display().to_string(),
            offset,
            reason,
        },
        Err(other) => return Err(other.to_string()),
    };
    let name = wal.display();
    if json {
        let value = match &verdict {
            Verdict::Clean { records } => {
                json!({"wal": name.to_string(), "status": "clean", "records": records})
            }
            Verdict::TornTail {
                offset,
                bytes,
                reason,
                records,
            } => json!({
                "wal": name.to_string(), "status": "torn_tail", "records": records,
                "offset": offset, "bytes": bytes, "reason": reason,
            }),
            Verdict::Corrupt {
                file,
                offset,
                reason,
            } => json!({
                "wal": name.to_string(), "status": "corrupt", "file": file,
                "offset": offset, "reason": reason,
            }),
        };
        println!("{value}");
    } else {
        match &verdict {
            Verdict::Clean { records } => println!("{name}: clean ({records} records)"),
            Verdict::TornTail {
                offset,
                bytes,
                reason,
                records,
            } => println!(
                "{name}: damaged: torn tail at byte {offset} ({reason}): {bytes} bytes after \
                 {records} good records; the next writable open cuts them"
            ),
            Verdict::Corrupt {
                file,
                offset,
                reason,
            } => println!(
                "{name}: damaged: {file} is corrupt at byte {offset}: {reason}; the store \
                 will not open until it is repaired"
            ),
        }
    }
    Ok(match verdict {
        Verdict::Clean { .. } => 0,
        _ => 1,
    })
}
