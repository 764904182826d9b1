//! `softadastra-sync`: look inside a store's WAL without changing it.
//!
//! ```text
//! softadastra-sync inspect WAL [--json]   counts, outbox summary, replay report
//! softadastra-sync verify WAL [--json]    full integrity check: exit 0 clean, 1 damaged
//! softadastra-sync compact WAL [--json]   fold the log into the checkpoint, print the report
//! ```
//!
//! `inspect` and `verify` open the store read-only (nothing is created, repaired or written);
//! `compact` opens it for writing. All three refuse a store that a running process has open
//! for writing (exit 2). Exit status 2 is also every usage or I/O error.

mod compact;
mod inspect;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: softadastra-sync inspect WAL [--json]
       softadastra-sync verify WAL [--json]
       softadastra-sync compact WAL [--json]

  inspect  files, counts, outbox summary and replay report of the store at WAL
  verify   full integrity check of WAL and its sequence file:
           exit 0 clean, 1 damaged (the offset and the damage are named)
  compact  fold the log into the checkpoint and collect expired, acknowledged
           tombstones, as the library's automatic compaction does

inspect and verify open the store read-only: nothing is created, repaired or
written. compact writes: the store must not be open in another process.";

/// The commands, as typed.
const COMMANDS: [&str; 3] = ["inspect", "verify", "compact"];

/// What the command line asks for.
struct Request {
    command: String,
    wal: PathBuf,
    json: bool,
}

fn parse(args: &[String]) -> Result<Request, String> {
    let mut json = false;
    let mut positional = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--json" => json = true,
            // An empty problem asks for the usage text.
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            word => positional.push(word.to_string()),
        }
    }
    match positional.as_slice() {
        [command, wal] if COMMANDS.contains(&command.as_str()) => Ok(Request {
            command: command.clone(),
            wal: PathBuf::from(wal),
            json,
        }),
        [command, ..] if !COMMANDS.contains(&command.as_str()) => {
            Err(format!("unknown command {command}"))
        }
        _ => Err("expected a command and one WAL path".into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let request = match parse(&args) {
        Ok(request) => request,
        Err(problem) if problem.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("softadastra-sync: {problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let outcome = match request.command.as_str() {
        "inspect" => inspect::run(&request.wal, request.json),
        "compact" => compact::run(&request.wal, request.json),
        _ => verify::run(&request.wal, request.json),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("softadastra-sync: {message}");
            ExitCode::from(2)
        }
    }
}
