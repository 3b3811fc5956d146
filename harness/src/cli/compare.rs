//! `compare`.

use std::path::PathBuf;

use crate::compare::{self, Run};
use crate::exit::{CliError, Status};
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

pub fn compare(args: CompareArgs) -> Result<Status, CliError> {
    if args.label.len() > args.results.len() {
        return Err(CliError::Usage(format!(
            "{} labels for {} results files",
            args.label.len(),
            args.results.len()
        )));
    }
    let mut runs = Vec::new();
    let mut sources = Vec::new();
    // The baseline is the first column of the comparison, so the matrix, the
    // JSON, the HTML and the change list below are one computation.
    if let Some(p) = &args.baseline {
        let results = json::read(p).map_err(CliError::Usage)?;
        runs.push(Run {
            label: format!("baseline: {}", compare::default_label(&results)),
            results,
        });
        sources.push(p.display().to_string());
    }
    let first = runs.len();
    for (i, p) in args.results.iter().enumerate() {
        // The reader's message names the file and the place.
        let results = json::read(p).map_err(CliError::Usage)?;
        let label = args
            .label
            .get(i)
            .cloned()
            .unwrap_or_else(|| compare::default_label(&results));
        runs.push(Run { label, results });
        sources.push(p.display().to_string());
    }
    let mut labels: Vec<String> = runs.iter().map(|r| r.label.clone()).collect();
    let results: Vec<&crate::report::results::RunResults> =
        runs.iter().map(|r| &r.results).collect();
    compare::distinct_labels(&mut labels, &results, &sources);
    for (run, label) in runs.iter_mut().zip(labels) {
        run.label = label;
    }
    let c = compare::compare(&runs);
    let md = compare::markdown(&c);
    let write = |p: &std::path::Path, text: String| {
        std::fs::write(p, text)
            .map_err(|e| CliError::file(format!("cannot write {}", p.display()), e))
    };
    match &args.markdown {
        Some(p) => write(p, md)?,
        None => crate::cli::print_stdout(&md),
    }
    if let Some(p) = &args.json {
        write(
            p,
            serde_json::to_string_pretty(&c).unwrap_or_default() + "\n",
        )?;
    }
    if let Some(p) = &args.html {
        write(p, crate::report::html::compare_page(&c))?;
    }
    let Some(base_path) = &args.baseline else {
        return Ok(Status::Ok);
    };
    let mut changed = false;
    for (i, label) in c.labels.iter().enumerate().skip(first) {
        let changes = compare::changes_against(&c, 0, i);
        if changes.is_empty() {
            eprintln!(
                "{label}: no change against the baseline {}",
                base_path.display()
            );
        } else {
            changed = true;
            eprintln!(
                "{label}: {} change(s) against the baseline {}:",
                changes.len(),
                base_path.display()
            );
            for c in changes {
                eprintln!("  {c}");
            }
        }
    }
    Ok(if changed && args.fail_on_change {
        Status::Failed
    } else {
        Status::Ok
    })
}
