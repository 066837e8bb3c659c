//! Progress of a zone-file catch-up: a bar on a terminal, log lines every
//! 5 s otherwise, a line when every announced file is held.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tracing::info;

use super::state::AtlasState;

/// Shown only while this many or more files are missing.
const QUIET_BELOW: u64 = 20;

/// The catch-up display.
#[derive(Default)]
pub struct Progress {
    bar: Option<ProgressBar>,
    last_log: Option<Instant>,
    catching_up: bool,
    started: Option<(Instant, u64)>,
}

impl Progress {
    /// Shows where the replication stands.
    pub fn update(&mut self, state: &AtlasState) {
        let (held, missing) = state.metrics.atlas.held_missing();
        let total = held + missing;
        if missing == 0 {
            if let Some(bar) = self.bar.take() {
                bar.finish_and_clear();
            }
            if self.catching_up {
                self.catching_up = false;
                let secs = self.started.map(|(t, _)| t.elapsed().as_secs_f64()).unwrap_or(0.0);
                let got = self.started.map(|(_, h)| held.saturating_sub(h)).unwrap_or(0);
                info!(held, fetched = got, secs = format!("{secs:.1}"), "atlas: every announced zone file is held");
            }
            return;
        }
        if missing >= QUIET_BELOW && !self.catching_up {
            self.catching_up = true;
            self.started = Some((Instant::now(), held));
            if std::io::stderr().is_terminal() {
                let bar = ProgressBar::new(total);
                bar.set_style(
                    ProgressStyle::with_template("{spinner} zone files [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                self.bar = Some(bar);
            }
        }
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(held);
        } else if self.catching_up && self.last_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
            self.last_log = Some(Instant::now());
            let (peers, healthy) = state.peers().counts();
            info!(held, missing, peers, healthy, "atlas: fetching zone files");
        }
    }
}
