//! Progress of a long sync: a bar on a terminal, periodic log lines otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tracing::info;

/// Shows sync progress; quiet for short catch-ups.
pub struct Progress {
    bar: Option<ProgressBar>,
    /// Height when the bar appeared: it counts the blocks of this sync, so
    /// its rate and ETA start right.
    base: u64,
    last_log: Instant,
}

/// Below this many blocks behind, no bar or progress lines are shown.
const QUIET_BELOW: u64 = 200;

impl Progress {
    /// A new, not yet visible, progress display.
    pub fn new() -> Self {
        Self { bar: None, base: 0, last_log: Instant::now() }
    }

    /// Reports being at `height` of `tip` after `done` blocks in `elapsed`.
    pub fn update(&mut self, height: u64, tip: u64, done: u64, elapsed: Duration) {
        let rate = done as f64 / elapsed.as_secs_f64().max(1e-3);
        let behind = tip.saturating_sub(height);
        if self.bar.is_none() && behind >= QUIET_BELOW && std::io::stderr().is_terminal() {
            self.base = height;
            let bar = ProgressBar::new(tip - height);
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix} [{bar:40}] {pos}/{len} blocks, {msg} eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_length(tip.saturating_sub(self.base));
            bar.set_position(height.saturating_sub(self.base));
            bar.set_prefix(format!("block {height}/{tip}"));
            bar.set_message(format!("{rate:.0} blocks/s"));
        } else if (behind >= QUIET_BELOW || done >= QUIET_BELOW) && self.last_log.elapsed() >= Duration::from_secs(5) {
            self.last_log = Instant::now();
            info!(height, tip, blocks_per_sec = format!("{rate:.0}"), "syncing");
        }
    }

    /// Clears the bar.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}
