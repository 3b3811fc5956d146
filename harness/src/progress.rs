//! Progress of a run as the runner reports it: libtest's lines (CI, pipes,
//! `--quiet`), written here so they say `skipped` where libtest-mimic says
//! `ignored`, or a live line on a terminal (indicatif).

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// libtest's lines on stdout, in libtest's shape (`test annotation/new-key
/// ... ok`, one character each with `--quiet`, the failures with their
/// diffs, a `test result:` line), except that a skipped scenario says
/// `skipped`, as every summary of the harness does. libtest-mimic's own
/// printer says `ignored` and cannot be told otherwise, so the runner
/// silences it and this prints instead.
pub struct Lines {
    quiet: bool,
    state: Mutex<LinesState>,
}

#[derive(Default)]
struct LinesState {
    started: Option<Instant>,
    passed: usize,
    failed: usize,
    skipped: usize,
    /// Characters on the current line of `--quiet` output.
    column: usize,
    /// Id and text of each failure, printed at the end.
    failures: Vec<(String, String)>,
}

/// libtest wraps its terse line after this many characters.
const TERSE_WIDTH: usize = 88;

impl Lines {
    pub fn new(quiet: bool) -> Lines {
        Lines {
            quiet,
            state: Mutex::default(),
        }
    }

    /// The line or character for one result, and the failure text to keep
    /// (the diff, then why and what to change).
    fn render(&self, r: &ScenarioResult) -> (String, Option<String>) {
        let (word, terse, failure) = match &r.verdict {
            Verdict::Pass { .. } => ("ok".to_string(), '.', None),
            Verdict::Skip { reason } => (format!("skipped: {reason}"), 's', None),
            Verdict::Fail { reason, diff, .. } => (
                "FAILED".to_string(),
                'F',
                Some(format!("{reason}\n{diff}\n{}", why(r))),
            ),
            Verdict::Error { reason } => (
                "FAILED".to_string(),
                'F',
                Some(format!("error: {reason}\n{}", why(r))),
            ),
        };
        let text = if self.quiet {
            terse.to_string()
        } else {
            format!("test {} ... {word}\n", r.id)
        };
        (text, failure)
    }

    /// The end of a run in libtest's words, `skipped` for `ignored`.
    fn summary(state: &LinesState) -> String {
        let mut out = String::new();
        if state.column > 0 {
            out.push('\n');
        }
        if !state.failures.is_empty() {
            out.push_str("\nfailures:\n");
            for (id, text) in &state.failures {
                out.push_str(&format!("\n---- {id} ----\n{}\n", text.trim_end()));
            }
            out.push_str("\nfailures:\n");
            for (id, _) in &state.failures {
                out.push_str(&format!("    {id}\n"));
            }
        }
        let secs = state
            .started
            .map(|s| s.elapsed().as_secs_f64())
            .unwrap_or(0.0);
        out.push_str(&format!(
            "\ntest result: {}. {} passed; {} failed; {} skipped; finished in {secs:.2}s\n\n",
            if state.failures.is_empty() {
                "ok"
            } else {
                "FAILED"
            },
            state.passed,
            state.failed,
            state.skipped,
        ));
        out
    }
}

impl Progress for Lines {
    fn begin(&self, total: usize) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.started = Some(Instant::now());
        let noun = if total == 1 { "scenario" } else { "scenarios" };
        print_out(&format!("\nrunning {total} {noun}\n"));
    }

    fn finished(&self, result: &ScenarioResult) {
        let (text, failure) = self.render(result);
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match &result.verdict {
            Verdict::Pass { .. } => st.passed += 1,
            Verdict::Skip { .. } => st.skipped += 1,
            Verdict::Fail { .. } | Verdict::Error { .. } => st.failed += 1,
        }
        if let Some(f) = failure {
            st.failures.push((result.id.clone(), f));
        }
        if self.quiet {
            st.column += 1;
            let wrap = st.column >= TERSE_WIDTH;
            if wrap {
                st.column = 0;
            }
            print_out(&(text + if wrap { "\n" } else { "" }));
        } else {
            print_out(&text);
        }
    }

    fn end(&self) {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        print_out(&Lines::summary(&st));
    }
}

/// Writes to stdout at once and flushes, so lines of parallel scenarios do
/// not interleave and a reader of a pipe sees each as it happens; a closed
/// pipe is not an error of the run.
fn print_out(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// The diagnoses under a failure: `why:`/`fix:` lines, or that none matches.
fn why(r: &ScenarioResult) -> String {
    crate::report::diagnoses::text(&r.diagnoses, true)
        .trim_end()
        .to_string()
}

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
            let why: String = why(result).lines().map(|l| format!("\n    {l}")).collect();
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

    fn result(id: &str, verdict: Verdict) -> ScenarioResult {
        ScenarioResult {
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
        }
    }

    /// Issue 22: the lines say `skipped` as the summaries do, in libtest's shape.
    #[test]
    fn libtest_lines_say_skipped() {
        let lines = Lines::new(false);
        let skip = result(
            "containerd/x",
            Verdict::Skip {
                reason: "requires runtime cri-o".into(),
            },
        );
        assert_eq!(
            lines.render(&skip).0,
            "test containerd/x ... skipped: requires runtime cri-o\n"
        );
        let pass = result("a/b", Verdict::Pass { checks: vec![] });
        assert_eq!(lines.render(&pass).0, "test a/b ... ok\n");
        let fail = result(
            "a/c",
            Verdict::Fail {
                reason: "uid_map differs".into(),
                diff: "- 0 1 2\n+ 0 3 4".into(),
                checks: vec![],
            },
        );
        let (text, failure) = lines.render(&fail);
        assert_eq!(text, "test a/c ... FAILED\n");
        assert_eq!(
            failure.as_deref(),
            Some(
                "uid_map differs\n- 0 1 2\n+ 0 3 4\nwhy: no diagnosis in the catalog matches this failure (see the diff and evidence above)"
            )
        );
        assert_eq!(Lines::new(true).render(&skip).0, "s");
        let state = LinesState {
            passed: 1,
            failed: 1,
            skipped: 1,
            failures: vec![("a/c".into(), failure.unwrap_or_default())],
            ..Default::default()
        };
        let end = Lines::summary(&state);
        assert!(end.contains("---- a/c ----\nuid_map differs"), "{end}");
        assert!(
            end.contains("test result: FAILED. 1 passed; 1 failed; 1 skipped;"),
            "{end}"
        );
        assert!(!end.contains("ignored"), "{end}");
    }

    #[test]
    fn a_live_line_counts_what_finished_and_failed() {
        let line = LiveLine::new(ProgressDrawTarget::hidden());
        line.begin(3);
        line.started("a");
        line.started("b");
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
