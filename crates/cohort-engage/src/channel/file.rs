//! The local sinks: a file of JSON lines (one per message, appended) and the
//! console. Both accept everything, so they are for demos, dry runs and
//! checking what a campaign would send before pointing it at a gateway.

use std::io::Write;
use std::path::Path;

use super::{Attempt, Envelope};

/// Appends one JSON line per message to `path`; a write failure is a
/// transient attempt for every message of the batch (the disk may recover).
pub(crate) fn write_file(path: &Path, batch: &[&Envelope]) -> Vec<Attempt> {
    let result = (|| -> std::io::Result<()> {
        let mut out = String::new();
        for env in batch {
            out.push_str(&serde_json::to_string(env).map_err(std::io::Error::other)?);
            out.push('\n');
        }
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        file.write_all(out.as_bytes())?;
        file.flush()
    })();
    batch
        .iter()
        .map(|_| match &result {
            Ok(()) => Attempt::Delivered { http_status: None },
            Err(e) => Attempt::Transient { http_status: None, error: format!("{}: {e}", path.display()) },
        })
        .collect()
}

/// Writes one readable line per message to standard output.
pub(crate) fn write_console(batch: &[&Envelope]) -> Vec<Attempt> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    batch
        .iter()
        .map(|env| {
            let line =
                format!("[{} → {} ({})] {} {}\n", env.channel, env.recipient, env.person_id, env.subject, env.body);
            match out.write_all(line.as_bytes()) {
                Ok(()) => Attempt::Delivered { http_status: None },
                Err(e) => Attempt::Transient { http_status: None, error: format!("stdout: {e}") },
            }
        })
        .collect()
}
