//! `run`: load, connect, run the suite, write reports, pick the exit code.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::incluster::Reports;
use super::target_args::{self, TargetArgs};
use crate::exit::{CliError, Status};
use crate::progress::{Lines, LiveLine, Progress};
use crate::report::results::RunResults;
use crate::runner::{self, Selection, Suite};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 all passed or skipped, 1 a scenario failed or errored, 2 bad input or usage, 3 the target is unusable, 4 no scenario selected (--no-tests=fail), 130 interrupted (reports written)."
)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Write JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write JSON results here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY).
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Write a self-contained HTML report here (host id picture, scenario table).
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Write every report into this folder (junit.xml, results.json,
    /// summary.md, report.html); --junit and the others still choose their own path.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Follow Sonobuoy's plugin protocol: the reports go to $SONOBUOY_RESULTS_DIR
    /// (default /tmp/sonobuoy/results, or --out), then the JUnit's path into `<dir>/done`.
    #[arg(long)]
    pub sonobuoy: bool,
    /// No live progress line; libtest's terse output (one character per scenario).
    #[arg(short, long)]
    pub quiet: bool,
    /// Per-pod settle timeout for every scenario (default: the scenario's, else 30s on cri/local, 120s on kube).
    #[arg(long, value_parser = crate::scenario::load::parse_timeout)]
    pub timeout: Option<std::time::Duration>,
    /// Scenario files or folders (default: scenarios/); an argument that is
    /// not an existing path is the test-name filter, as with `cargo test`.
    pub args: Vec<String>,
    /// Skip scenarios whose name contains this (repeatable).
    #[arg(long)]
    pub skip: Vec<String>,
    /// Match the filter exactly.
    #[arg(long)]
    pub exact: bool,
    /// List the selected scenarios instead of running them.
    #[arg(long)]
    pub list: bool,
    /// How many scenarios run at once (default: the number of CPUs).
    #[arg(long)]
    pub test_threads: Option<usize>,
    /// A name for this run, stored in the results: `compare` uses it as the
    /// run's column (e.g. `--label nightly`, `--label before-upgrade`).
    #[arg(long)]
    pub label: Option<String>,
    /// What a run that selects no scenario does: `fail` (exit 4, before the
    /// target is touched), `warn` (say so, then run and exit 0) or `pass`.
    #[arg(long, value_enum, default_value_t = NoTests::Fail)]
    pub no_tests: NoTests,
}

/// `--no-tests`, as cargo-nextest has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NoTests {
    Fail,
    Warn,
    Pass,
}

/// Why nothing was selected, in words that point at the likely typo.
fn no_tests_reason(
    loaded: usize,
    paths: &[PathBuf],
    filter: Option<&str>,
    skip: &[String],
) -> String {
    let shown = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut why = match filter {
        Some(f) => {
            let mut w =
                format!("the filter {f:?} matched none of the {loaded} scenarios in {shown}");
            // A filter with a slash or a YAML suffix was meant as a path:
            // positional arguments that do not exist become the filter.
            if f.contains('/') || f.ends_with(".yaml") || f.ends_with(".yml") {
                w.push_str(&format!(
                    "; {f:?} looks like a path, but no such file or folder exists, so it was taken as a name filter"
                ));
            }
            w
        }
        None => format!("--skip {skip:?} left none of the {loaded} scenarios in {shown}"),
    };
    why.push_str(" (--no-tests=warn or --no-tests=pass to allow an empty run)");
    format!("no scenario selected: {why}")
}

/// Splits positional arguments into scenario paths (those `exists` says
/// exist) and at most one filter.
pub fn paths_and_filter(
    args: &[String],
    exists: &dyn Fn(&Path) -> bool,
) -> Result<(Vec<PathBuf>, Option<String>), CliError> {
    let (paths, filters): (Vec<&String>, Vec<&String>) =
        args.iter().partition(|a| exists(Path::new(a)));
    if filters.len() > 1 {
        return Err(CliError::Usage(format!(
            "{} are neither existing paths nor a single filter; give at most one filter (missing scenario path?)",
            filters.iter().map(|f| format!("{f:?}")).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok((
        crate::cli::default_paths(paths.into_iter().map(PathBuf::from).collect()),
        filters.first().map(|f| f.to_string()),
    ))
}

impl RunArgs {
    /// Where this run's reports go (`--out`, `--sonobuoy`, the single paths).
    pub fn reports(&self) -> Result<Reports, CliError> {
        Reports::resolve(self, &|k| std::env::var(k).ok())
    }
}

pub fn run(args: RunArgs) -> Result<Status, CliError> {
    let (paths, filter) = paths_and_filter(&args.args, &|p| p.exists())?;
    let scenarios = super::validate::load(&paths)?;
    let selection = Selection {
        filter,
        skip: args.skip.clone(),
        exact: args.exact,
        list: args.list,
        test_threads: args.test_threads,
        quiet: args.quiet,
    };
    if args.list {
        runner::list(&scenarios, &selection);
        return Ok(Status::Ok);
    }
    // Before the target: a typo must not cost a node start, and must not pass.
    if runner::selected_count(&scenarios, &selection) == 0 {
        let reason = no_tests_reason(
            scenarios.len(),
            &paths,
            selection.filter.as_deref(),
            &selection.skip,
        );
        match args.no_tests {
            NoTests::Fail => return Err(CliError::NoTests(reason)),
            NoTests::Warn => eprintln!("warning: {reason}"),
            NoTests::Pass => {}
        }
    }
    // `--crio VERSION` is downloaded (once) before the async runtime starts.
    let args = RunArgs {
        target: args.target.resolved()?,
        ..args
    };
    let rt = crate::cli::runtime()?;
    let result = run_on_target(&rt, &args, &scenarios, &selection);
    args.target.stop_local_node();
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    result
}

fn run_on_target(
    rt: &tokio::runtime::Runtime,
    args: &RunArgs,
    scenarios: &[crate::scenario::Scenario],
    selection: &Selection,
) -> Result<Status, CliError> {
    // On a terminal a live line replaces libtest's lines; elsewhere (CI) and
    // with --quiet, libtest's output as before.
    let progress: Arc<dyn Progress> = match LiveLine::on_terminal().filter(|_| !args.quiet) {
        Some(line) => Arc::new(line),
        None => Arc::new(Lines::new(args.quiet)),
    };
    let reports = args.reports()?;
    let executed = execute(
        rt,
        &args.target,
        args.timeout,
        scenarios,
        selection,
        progress,
    );
    let (mut results, interrupted) = match executed {
        Ok(done) => done,
        Err(e) => {
            // Sonobuoy waits for its done file until the plugin's timeout:
            // a run that could not start still says so there, then fails.
            if let Some(dir) = &reports.sonobuoy {
                super::incluster::report_failure_to_sonobuoy(dir, &e)?;
            }
            return Err(e);
        }
    };
    results.label = args.label.clone();
    reports.write(&results)?;
    let s = &results.summary;
    eprintln!(
        "{} passed, {} failed, {} errored, {} skipped ({})",
        s.passed,
        s.failed,
        s.errored,
        s.skipped,
        results.environment.label()
    );
    Ok(if interrupted {
        Status::Interrupted
    } else if s.failed + s.errored > 0 {
        Status::Failed
    } else {
        Status::Ok
    })
}

/// The run path every command that runs scenarios shares (`run`, `ote
/// run-test`, `ote run-suite`): connect, read the facts, run the selected
/// scenarios with Ctrl-C handling. Returns the results and whether Ctrl-C
/// stopped the run.
pub fn execute(
    rt: &tokio::runtime::Runtime,
    target_args: &TargetArgs,
    timeout: Option<std::time::Duration>,
    scenarios: &[crate::scenario::Scenario],
    selection: &Selection,
    progress: Arc<dyn Progress>,
) -> Result<(RunResults, bool), CliError> {
    let (target, facts) = rt.block_on(async {
        let target = target_args::connect(target_args).await?;
        let facts = target.facts().await?;
        Ok::<_, CliError>((target, facts))
    })?;
    let target: Arc<dyn crate::targets::Target> = Arc::from(target);
    let run_id = runner::new_run_id();
    // The run id is the value of the userns-e2e.io/run label on everything this run makes.
    eprintln!("target: {} (run {run_id})", facts.label());
    // Not the progress line: these hold even with --quiet.
    for line in facts.warnings() {
        eprintln!("warning: {line}");
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    let suite = Arc::new(Suite {
        templates: target.templates(&facts),
        target: target.clone(),
        facts,
        run_id: run_id.clone(),
        timeout,
        runtime: rt.handle().clone(),
        interrupted: interrupted.clone(),
    });
    // Ctrl-C: no new scenario starts, what this run made is removed, the
    // scenarios in flight end with an error; the reports are still written
    // and the exit code is 130.
    let on_interrupt = on_ctrl_c(rt, target, run_id, interrupted);
    let results = suite.run_with_progress(scenarios, selection, progress);
    on_interrupt.abort();
    Ok((results, suite.interrupted.load(Ordering::SeqCst)))
}

/// On Ctrl-C: no new scenario starts (`interrupted`), and what the run made
/// is removed; abort the handle when the run ends by itself.
pub fn on_ctrl_c(
    rt: &tokio::runtime::Runtime,
    target: Arc<dyn crate::targets::Target>,
    run_id: String,
    interrupted: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    rt.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            interrupted.store(true, Ordering::SeqCst);
            eprintln!("interrupted: removing what this run created …");
            for line in target.cancel_run(&run_id).await {
                eprintln!("  {line}");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positional_arguments_split_into_paths_and_one_filter() {
        let dir = std::env::temp_dir();
        let d = dir.display().to_string();
        let (paths, filter) =
            paths_and_filter(&[d.clone(), "annotation".into()], &|p| p.exists()).unwrap();
        assert_eq!(paths, vec![PathBuf::from(&d)]);
        assert_eq!(filter.as_deref(), Some("annotation"));
        let (paths, filter) = paths_and_filter(&[], &|p| p.exists()).unwrap();
        assert_eq!(paths, vec![PathBuf::from("scenarios")]);
        assert_eq!(filter, None);
        assert!(
            paths_and_filter(&["nope-1".into(), "nope-2".into()], &|p| p.exists())
                .unwrap_err()
                .to_string()
                .contains("nope-1")
        );
    }
}
