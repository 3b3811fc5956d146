//! Progress of a run as the runner reports it: nothing (CI, `--quiet`, the
//! libtest lines say it), or a live line on a terminal (indicatif) that
//! replaces libtest's lines.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::report::results::ScenarioResult;
use crate::verdict::Verdict;

/// What the runner tells about a run while it goes. Methods may be called
/// from several threads at once.
pub trait Progress: Send + Sync {
    /// The run starts with this many selected scenarios.
    fn begin(&self, _total: usize) {}
    fn started(&self, _id: &str) {}
    fn finished(&self, _result: &ScenarioResult) {}
    /// The run is over (before the summary line is printed).
    fn end(&self) {}
}

/// No progress of our own: libtest's lines are the progress.
pub struct Lines;

impl Progress for Lines {}

/// One live line on stderr: done/total, elapsed, failures so far, the
/// scenarios running now. Failures are printed above it as they happen.
pub struct LiveLine {
    bar: ProgressBar,
    running: Mutex<BTreeSet<String>>,
    failures: Mutex<usize>,
}

impl LiveLine {
    /// A live line when stderr is a terminal, else `None`.
    pub fn on_terminal() -> Option<LiveLine> {
        std::io::stderr()
            .is_terminal()
            .then(|| LiveLine::new(ProgressDrawTarget::stderr()))
    }

    pub fn new(target: ProgressDrawTarget) -> LiveLine {
        let bar = ProgressBar::with_draw_target(Some(0), target);
        bar.set_style(
            ProgressStyle::with_template("{elapsed:>4} [{bar:24}] {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        LiveLine {
            bar,
            running: Mutex::default(),
            failures: Mutex::default(),
        }
    }

    fn redraw(&self) {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let failures = *self.failures.lock().unwrap_or_else(|p| p.into_inner());
        self.bar.set_message(message(failures, &running));
    }
}

/// `· 1 failed · running: a, b (+3)`.
fn message(failures: usize, running: &BTreeSet<String>) -> String {
    let mut m = format!("· {failures} failed");
    if !running.is_empty() {
        let shown: Vec<&str> = running.iter().take(2).map(String::as_str).collect();
        m.push_str(&format!(" · running: {}", shown.join(", ")));
        if running.len() > shown.len() {
            m.push_str(&format!(" (+{})", running.len() - shown.len()));
        }
    }
    m
}

impl Progress for LiveLine {
    fn begin(&self, total: usize) {
        self.bar.set_length(total as u64);
        // Elapsed counts the scenarios, not connecting or provisioning.
        self.bar.reset_elapsed();
        self.bar.enable_steady_tick(Duration::from_millis(200));
        self.redraw();
    }

    fn started(&self, id: &str) {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string());
        self.redraw();
    }

    fn finished(&self, result: &ScenarioResult) {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&result.id);
        let line = match &result.verdict {
            Verdict::Fail { reason, .. } => Some(format!("FAILED {}: {reason}", result.id)),
            Verdict::Error { reason } => Some(format!("ERROR  {}: {reason}", result.id)),
            _ => None,
        };
        if let Some(line) = line {
            *self.failures.lock().unwrap_or_else(|p| p.into_inner()) += 1;
            // Why and what to change, under the failure.
            let why = crate::report::diagnoses::text(&result.diagnoses, true);
            let why: String = why.lines().map(|l| format!("\n    {l}")).collect();
            self.bar.println(format!("{line}{why}"));
        }
        self.bar.inc(1);
        self.redraw();
    }

    fn end(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_failures_and_at_most_two_running_scenarios() {
        let running: BTreeSet<String> = ["a/x", "b/y", "c/z"].map(String::from).into();
        assert_eq!(message(2, &running), "· 2 failed · running: a/x, b/y (+1)");
        assert_eq!(message(0, &BTreeSet::new()), "· 0 failed");
    }

    #[test]
    fn a_live_line_counts_what_finished_and_failed() {
        let line = LiveLine::new(ProgressDrawTarget::hidden());
        line.begin(3);
        line.started("a");
        line.started("b");
        let result = |id: &str, verdict| ScenarioResult {
            id: id.into(),
            file: String::new(),
            topic: String::new(),
            description: String::new(),
            cites: vec![],
            verdict,
            observation: None,
            duration_ms: 0,
            start_ms: None,
            diagnoses: Vec::new(),
        };
        line.finished(&result(
            "a",
            Verdict::Error {
                reason: "gone".into(),
            },
        ));
        assert_eq!(line.bar.position(), 1);
        assert_eq!(line.bar.length(), Some(3));
        assert_eq!(line.bar.message(), "· 1 failed · running: b");
        line.finished(&result("b", Verdict::Pass { checks: vec![] }));
        assert_eq!(line.bar.message(), "· 1 failed");
        line.end();
        assert!(line.bar.is_finished());
    }
}
