//! The API's store reads: a small pool of read-only SQLite connections, each
//! read on the blocking pool, so one slow read does not hold up the others.
//!
//! Invariants: at most `size` reads run at once (more wait for a permit, in
//! arrival order); a connection is used by one read at a time and goes back to
//! the pool after it, even when the read failed; connections are opened lazily
//! (the first one at start, so a bad path fails [`Readers::open`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::store::{Store, StoreError};

/// Why a read gave no value.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The read itself (or opening its connection) failed; the text is for the log only.
    Failed(anyhow::Error),
    /// The blocking task died (panicked) or the pool is closed.
    Lost(String),
}

/// A pool of read-only connections to one database.
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Store>>,
    permits: Arc<Semaphore>,
    /// Test hook: every read sleeps this long first (zero in production).
    delay: Duration,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers").field("path", &self.path).field("free", &self.permits.available_permits()).finish()
    }
}

impl Readers {
    /// A pool of at most `size` (at least 1) connections to `path`; opens the first now.
    pub(crate) fn open(path: &Path, size: usize, delay: Duration) -> Result<Readers, StoreError> {
        let first = Store::open_readonly(path)?;
        Ok(Readers {
            path: path.to_path_buf(),
            idle: Mutex::new(vec![first]),
            permits: Arc::new(Semaphore::new(size.max(1))),
            delay,
        })
    }

    /// Runs `f` on a pooled connection on the blocking pool.
    pub(crate) async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, ReadError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> anyhow::Result<T> + Send + 'static,
    {
        let permit = self.permits.clone().acquire_owned().await.map_err(|e| ReadError::Lost(e.to_string()))?;
        let this = self.clone();
        let task = tokio::task::spawn_blocking(move || {
            // The permit lives as long as the read, even if the request is dropped meanwhile.
            let _permit = permit;
            let store = match this.take() {
                Ok(s) => s,
                Err(e) => return Err(ReadError::Failed(e.into())),
            };
            if !this.delay.is_zero() {
                std::thread::sleep(this.delay);
            }
            let out = f(&store).map_err(ReadError::Failed);
            this.give_back(store);
            out
        });
        task.await.map_err(|e| ReadError::Lost(e.to_string()))?
    }

    fn take(&self) -> Result<Store, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(s) => Ok(s),
            None => Store::open_readonly(&self.path),
        }
    }

    fn give_back(&self, store: Store) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(store);
    }
}

/// The default pool size: two connections per core (reads wait on the disk as
/// well as the CPU), between 4 and 16.
pub(crate) fn default_size() -> usize {
    std::thread::available_parallelism().map_or(4, |n| n.get() * 2).clamp(4, 16)
}
