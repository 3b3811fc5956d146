//! Running inside the cluster: where the reports of a run go (`--out DIR`,
//! the single `--junit`/`--json`/… paths) and Sonobuoy's plugin protocol
//! (`--sonobuoy`).
//!
//! Sonobuoy (vmware-tanzu/sonobuoy, read at 307560188828ce124c575f60fcd30e8fb7cd45b7):
//! - a plugin's results folder is `SONOBUOY_RESULTS_DIR` (set on the plugin's
//!   container, `pkg/client/gen.go:61` and `:752`), by default
//!   `/tmp/sonobuoy/results` (`pkg/plugin/constants.go:24`);
//! - when the plugin is done it writes the *path of its results file* into
//!   `<results dir>/done` (`site/content/docs/main/plugins.md:72-78`); the
//!   sidecar waits for that file, reads it, trims whitespace and sends the
//!   file it names (`pkg/worker/worker.go:134-173`, called with
//!   `filepath.Join(cfg.ResultsDir, "done")` in `cmd/sonobuoy/app/worker.go:189`);
//! - `result-format: junit` makes the aggregator read XML files as JUnit
//!   (`pkg/client/results/processing.go:39`, plugins.md:103).
//!
//! Whether the harness runs in a pod is kube-rs's own rule for its in-cluster
//! config (`KUBERNETES_SERVICE_HOST` and the ServiceAccount token file); see
//! [`crate::targets::kube::in_cluster`].

use std::path::{Path, PathBuf};

use super::run::RunArgs;
use crate::exit::CliError;
use crate::report::results::RunResults;

/// Sonobuoy's default results folder for plugin containers.
pub const SONOBUOY_DEFAULT_RESULTS_DIR: &str = "/tmp/sonobuoy/results";
/// The variable Sonobuoy sets on a plugin's container.
pub const SONOBUOY_RESULTS_DIR_ENV: &str = "SONOBUOY_RESULTS_DIR";

/// The report files written by `--out DIR`, by name.
pub const JUNIT_FILE: &str = "junit.xml";
pub const JSON_FILE: &str = "results.json";
pub const MARKDOWN_FILE: &str = "summary.md";
pub const HTML_FILE: &str = "report.html";

/// Where a run writes its reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reports {
    pub junit: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub markdown: Option<PathBuf>,
    pub html: Option<PathBuf>,
    /// `--sonobuoy`: the results folder that gets the `done` file.
    pub sonobuoy: Option<PathBuf>,
}

impl Reports {
    /// The paths `run`'s flags ask for; `env` reads the environment.
    pub fn resolve(
        args: &RunArgs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Reports, CliError> {
        let sonobuoy = args.sonobuoy.then(|| {
            args.out.clone().unwrap_or_else(|| {
                PathBuf::from(
                    env(SONOBUOY_RESULTS_DIR_ENV)
                        .filter(|d| !d.is_empty())
                        .unwrap_or_else(|| SONOBUOY_DEFAULT_RESULTS_DIR.to_string()),
                )
            })
        });
        let folder = args.out.clone().or_else(|| sonobuoy.clone());
        let pick = |given: &Option<PathBuf>, name: &str| {
            given
                .clone()
                .or_else(|| folder.as_ref().map(|d| d.join(name)))
        };
        let reports = Reports {
            junit: pick(&args.junit, JUNIT_FILE),
            json: pick(&args.json, JSON_FILE),
            markdown: pick(&args.markdown, MARKDOWN_FILE),
            html: pick(&args.html, HTML_FILE),
            sonobuoy,
        };
        if let (Some(dir), Some(junit)) = (&reports.sonobuoy, &reports.junit) {
            // The sidecar sees the results folder only.
            if !junit.starts_with(dir) {
                return Err(CliError::Usage(format!(
                    "--sonobuoy sends the JUnit from its results folder {}; --junit {} is outside it",
                    dir.display(),
                    junit.display()
                )));
            }
        }
        Ok(reports)
    }

    /// Writes every report asked for; with `--sonobuoy`, the `done` file last.
    pub fn write(&self, results: &RunResults) -> Result<(), CliError> {
        if let Some(p) = &self.json {
            write_file(p, &crate::report::json::to_string(results))?;
        }
        if let Some(p) = &self.junit {
            let xml = crate::report::junit::render(results).map_err(|source| CliError::Report {
                what: "JUnit",
                source,
            })?;
            write_file(p, &xml)?;
        }
        if let Some(p) = &self.markdown {
            write_file(p, &crate::report::markdown::render(results))?;
        }
        if let Some(p) = &self.html {
            write_file(p, &crate::report::html::run_page(results))?;
        }
        if let (Some(dir), Some(junit)) = (&self.sonobuoy, &self.junit) {
            write_done(dir, junit)?;
        }
        Ok(())
    }
}

/// Writes `text` to `path`, making its folder.
pub fn write_file(path: &Path, text: &str) -> Result<(), CliError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::file(format!("cannot create {}", dir.display()), e))?;
    }
    std::fs::write(path, text)
        .map_err(|e| CliError::file(format!("cannot write {}", path.display()), e))
}

/// Sonobuoy's done file: `<dir>/done` holding the results file's path
/// (absolute, as the sidecar opens it from its own working folder).
pub fn write_done(dir: &Path, results_file: &Path) -> Result<PathBuf, CliError> {
    let absolute = std::path::absolute(results_file).map_err(|e| {
        CliError::file(
            format!("cannot make {} absolute", results_file.display()),
            e,
        )
    })?;
    let done = dir.join("done");
    write_file(&done, &absolute.display().to_string())?;
    Ok(done)
}

/// A run that could not start under Sonobuoy: a JUnit with one failed test
/// case carrying the error, and the done file, so the aggregator gets the
/// reason at once instead of a plugin timeout.
pub fn report_failure_to_sonobuoy(dir: &Path, error: &CliError) -> Result<(), CliError> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let reason = crate::targets::chain(error);
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
    status.set_message(reason.as_str()).set_type("target");
    let mut case = TestCase::new("userns-e2e run", status);
    case.set_system_err(reason);
    let mut suite = TestSuite::new("userns-e2e");
    suite.add_test_case(case);
    let mut report = Report::new("userns-e2e");
    report.add_test_suite(suite);
    let xml = report.to_string().map_err(|e| CliError::Report {
        what: "JUnit",
        source: crate::report::ReportError::Junit(e),
    })?;
    let junit = dir.join(JUNIT_FILE);
    write_file(&junit, &xml)?;
    write_done(dir, &junit)?;
    Ok(())
}
