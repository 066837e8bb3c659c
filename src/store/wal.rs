//! Checkpointing the write-ahead log off the writer's thread.
//!
//! SQLite's automatic checkpoint copies the WAL into the database file
//! inside the commit that crosses `wal_autocheckpoint` frames, on the thread
//! that commits blocks. A thread of its own runs PASSIVE checkpoints (never
//! blocking the writer or readers) every [`INTERVAL`], so that when the
//! writer's automatic checkpoint comes, nearly every frame is already copied:
//! the writer pays for the remainder and the fsync, and its next transaction
//! starts the WAL again from the beginning (which SQLite does only after a
//! checkpoint that reached the end of the log, as the writer's does).
//!
//! Durability is SQLite's: a checkpoint copies only committed frames, and a
//! kill at any point leaves the WAL to be replayed at the next open.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// How often the background thread copies what has been committed.
const INTERVAL: Duration = Duration::from_millis(100);

/// The background checkpoint thread of one writable store; stopped and
/// joined when dropped.
pub(super) struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` on a connection of its
    /// own.
    pub(super) fn start(path: &Path) -> Result<Checkpointer, rusqlite::Error> {
        let conn = Connection::open(path)?;
        // Waiting is never needed: PASSIVE copies what it can and returns.
        conn.busy_timeout(Duration::ZERO)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::park_timeout(INTERVAL);
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::debug!(error = %e, "background WAL checkpoint");
                    }
                }
            })
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Checkpointer { stop, thread: Some(thread) })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}
