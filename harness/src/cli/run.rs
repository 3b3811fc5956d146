//! `run`: load, connect, run the suite, write reports, pick the exit code.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::target_args::{self, TargetArgs};
use crate::exit;
use crate::report::results::RunResults;
use crate::runner::{self, Selection, Suite};
use crate::target::TargetError;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 all passed or skipped, 1 a scenario failed or errored, 2 bad input or usage, 3 the target is unusable."
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
    /// Per-pod settle timeout for every scenario (default: the scenario's, else 30s on cri/local, 120s on kube).
    #[arg(long, value_parser = humantime::parse_duration)]
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
}

/// Splits positional arguments into scenario paths and at most one filter.
fn paths_and_filter(args: &[String]) -> Result<(Vec<PathBuf>, Option<String>), String> {
    let (paths, filters): (Vec<&String>, Vec<&String>) =
        args.iter().partition(|a| Path::new(a).exists());
    if filters.len() > 1 {
        return Err(format!(
            "{} are neither existing paths nor a single filter; give at most one filter (missing scenario path?)",
            filters.iter().map(|f| format!("{f:?}")).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok((
        crate::cli::default_paths(paths.into_iter().map(PathBuf::from).collect()),
        filters.first().map(|f| f.to_string()),
    ))
}

pub fn run(args: RunArgs) -> i32 {
    let (paths, filter) = match paths_and_filter(&args.args) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::BAD_INPUT;
        }
    };
    if let Err(e) = args.target.check() {
        eprintln!("error: {e}");
        return exit::BAD_INPUT;
    }
    let scenarios = match crate::scenario::load::load_paths(&paths) {
        Ok(s) => s,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            eprintln!(
                "{} error(s) in scenario files; nothing was run",
                errors.len()
            );
            return exit::BAD_INPUT;
        }
    };
    let selection = Selection {
        filter,
        skip: args.skip.clone(),
        exact: args.exact,
        list: args.list,
        test_threads: args.test_threads,
    };
    if args.list {
        runner::list(&scenarios, &selection);
        return exit::OK;
    }
    let rt = match crate::cli::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let code = run_on_target(&rt, &args, &scenarios, &selection);
    if args.target.kind() == crate::facts::TargetKind::Local && !args.target.keep_node {
        crate::target::local::stop_after_run(&args.target);
    }
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    code
}

fn run_on_target(
    rt: &tokio::runtime::Runtime,
    args: &RunArgs,
    scenarios: &[crate::scenario::Scenario],
    selection: &Selection,
) -> i32 {
    let connected = rt.block_on(async {
        let target = target_args::connect(&args.target).await?;
        let facts = target.facts().await?;
        Ok::<_, TargetError>((target, facts))
    });
    let (target, facts) = match connected {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::TARGET_UNUSABLE;
        }
    };
    let target: Arc<dyn crate::target::Target> = Arc::from(target);
    let run_id = runner::new_run_id();
    // The run id is the value of the userns-e2e.io/run label on everything this run makes.
    eprintln!("target: {} (run {run_id})", facts.label());
    let suite = Arc::new(Suite {
        templates: target.templates(&facts),
        target: target.clone(),
        facts,
        run_id: run_id.clone(),
        timeout: args.timeout,
        runtime: rt.handle().clone(),
    });
    // Ctrl-C: remove what this run created, then leave with the usual code for SIGINT.
    let interrupt_target = target.clone();
    let interrupt_run = run_id.clone();
    let local_args = args.target.clone();
    rt.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: removing what this run created …");
            for line in interrupt_target.cancel_run(&interrupt_run).await {
                eprintln!("  {line}");
            }
            if local_args.kind() == crate::facts::TargetKind::Local && !local_args.keep_node {
                crate::target::local::stop_after_run(&local_args);
            }
            std::process::exit(130);
        }
    });
    let results = suite.run(scenarios, selection);
    if let Err(e) = write_reports(args, &results) {
        eprintln!("error: {e}");
        return exit::BAD_INPUT;
    }
    let s = &results.summary;
    eprintln!(
        "{} passed, {} failed, {} errored, {} skipped ({})",
        s.passed,
        s.failed,
        s.errored,
        s.skipped,
        results.environment.label()
    );
    if s.failed + s.errored > 0 {
        exit::FAILED
    } else {
        exit::OK
    }
}

fn write_reports(args: &RunArgs, results: &RunResults) -> Result<(), String> {
    let write = |path: &Path, text: String| -> Result<(), String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    if let Some(p) = &args.json {
        write(p, crate::report::json::to_string(results))?;
    }
    if let Some(p) = &args.junit {
        write(p, crate::report::junit::render(results)?)?;
    }
    if let Some(p) = &args.markdown {
        write(p, crate::report::markdown::render(results))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positional_arguments_split_into_paths_and_one_filter() {
        let dir = std::env::temp_dir();
        let d = dir.display().to_string();
        let (paths, filter) = paths_and_filter(&[d.clone(), "annotation".into()]).unwrap();
        assert_eq!(paths, vec![PathBuf::from(&d)]);
        assert_eq!(filter.as_deref(), Some("annotation"));
        let (paths, filter) = paths_and_filter(&[]).unwrap();
        assert_eq!(paths, vec![PathBuf::from("scenarios")]);
        assert_eq!(filter, None);
        assert!(paths_and_filter(&["nope-1".into(), "nope-2".into()])
            .unwrap_err()
            .contains("nope-1"));
    }
}
