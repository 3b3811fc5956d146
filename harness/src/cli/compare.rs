//! `compare`.

use std::path::PathBuf;

use crate::compare::{self, Run};
use crate::exit;
use crate::report::json;

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Results files (JSON from `run --json`), one per run.
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// Label of each run, in order (default: runtime, version and target).
    #[arg(long)]
    pub label: Vec<String>,
    /// Write the Markdown matrix here (default: stdout).
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Write the comparison as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the matrix as a self-contained HTML page here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// A committed results file to compare every run against.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// With --baseline: exit 1 when any verdict or observed behaviour changed.
    #[arg(long, requires = "baseline")]
    pub fail_on_change: bool,
}

pub fn compare(args: CompareArgs) -> i32 {
    let mut runs = Vec::new();
    for (i, p) in args.results.iter().enumerate() {
        match json::read(p) {
            Ok(results) => runs.push(Run {
                label: args
                    .label
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| compare::default_label(&results)),
                results,
            }),
            Err(e) => {
                eprintln!("error: {e}");
                return exit::BAD_INPUT;
            }
        }
    }
    if args.label.len() > runs.len() {
        eprintln!(
            "error: {} labels for {} results files",
            args.label.len(),
            runs.len()
        );
        return exit::BAD_INPUT;
    }
    let c = compare::compare(&runs);
    let md = compare::markdown(&c);
    let written = match &args.markdown {
        Some(p) => std::fs::write(p, &md).map_err(|e| format!("cannot write {}: {e}", p.display())),
        None => {
            crate::cli::print_stdout(&md);
            Ok(())
        }
    }
    .and_then(|()| match &args.json {
        Some(p) => std::fs::write(
            p,
            serde_json::to_string_pretty(&c).unwrap_or_default() + "\n",
        )
        .map_err(|e| format!("cannot write {}: {e}", p.display())),
        None => Ok(()),
    })
    .and_then(|()| match &args.html {
        Some(p) => std::fs::write(p, crate::report::html::compare_page(&c))
            .map_err(|e| format!("cannot write {}: {e}", p.display())),
        None => Ok(()),
    });
    if let Err(e) = written {
        eprintln!("error: {e}");
        return exit::BAD_INPUT;
    }
    let Some(base_path) = &args.baseline else {
        return exit::OK;
    };
    let baseline = match json::read(base_path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::BAD_INPUT;
        }
    };
    let mut changed = false;
    for run in &runs {
        let changes = compare::changes_against(&baseline, &run.results);
        if changes.is_empty() {
            eprintln!(
                "{}: no change against the baseline {}",
                run.label,
                base_path.display()
            );
        } else {
            changed = true;
            eprintln!(
                "{}: {} change(s) against the baseline {}:",
                run.label,
                changes.len(),
                base_path.display()
            );
            for c in changes {
                eprintln!("  {c}");
            }
        }
    }
    if changed && args.fail_on_change {
        exit::FAILED
    } else {
        exit::OK
    }
}
