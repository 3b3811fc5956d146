//! `validate`, `list` and `schema`.

use std::path::PathBuf;

use crate::exit::{CliError, Status};
use crate::scenario::{load, Requirements, Scenario, ScenarioFile};

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Scenario files or folders (default: scenarios/).
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Scenario files or folders (default: scenarios/).
    pub paths: Vec<PathBuf>,
    /// Print JSON (id, file, description, requirements) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// The schema of results files (`run --json`) instead of scenario files.
    #[arg(long, conflicts_with = "diagnoses")]
    pub results: bool,
    /// The schema of diagnosis catalog entries (`diagnoses/*.yaml`).
    #[arg(long)]
    pub diagnoses: bool,
    /// Write the schema to this file instead of stdout.
    #[arg(long)]
    pub write: Option<PathBuf>,
}

/// Loads scenarios, printing every error with its place.
pub fn load(paths: &[PathBuf]) -> Result<Vec<Scenario>, CliError> {
    load::load_paths(paths).map_err(|errors| {
        for e in &errors {
            eprintln!("error: {e}");
        }
        CliError::Input(format!("{} error(s)", errors.len()))
    })
}

fn load_or_report(paths: Vec<PathBuf>) -> Result<Vec<Scenario>, CliError> {
    load(&crate::cli::default_paths(paths))
}

pub fn validate(args: ValidateArgs) -> Result<Status, CliError> {
    // Diagnosis catalogs (a folder holding `diagnosis.schema.json`, or a
    // file in one) are checked as catalog entries, everything else as scenarios.
    let paths = crate::cli::default_paths(args.paths);
    let (catalogs, suites): (Vec<PathBuf>, Vec<PathBuf>) = paths
        .into_iter()
        .partition(|p| crate::diagnose::catalog::is_catalog_path(p));
    let mut failed = 0;
    if !catalogs.is_empty() {
        match crate::diagnose::catalog::load_paths(&catalogs) {
            Ok(entries) => println!("ok: {} diagnosis entries", entries.len()),
            Err(errors) => {
                for e in &errors {
                    eprintln!("error: {e}");
                }
                failed += errors.len();
            }
        }
    }
    if !suites.is_empty() {
        match load::load_paths(&suites) {
            Ok(scenarios) => {
                for s in &scenarios {
                    for w in load::lint(s) {
                        eprintln!("warning: {w}");
                    }
                }
                let n = scenarios.len();
                println!("ok: {n} scenario file{}", if n == 1 { "" } else { "s" });
            }
            Err(errors) => {
                for e in &errors {
                    eprintln!("error: {e}");
                }
                failed += errors.len();
            }
        }
    }
    if failed > 0 {
        return Err(CliError::Input(format!("{failed} error(s)")));
    }
    Ok(Status::Ok)
}

/// Requirements in one compact line, e.g. `runtime=cri-o >=1.29.5, targets=kube`.
pub fn requirements_line(r: &Requirements) -> String {
    let mut parts = Vec::new();
    if let Some(t) = &r.targets {
        parts.push(format!(
            "targets={}",
            t.iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join("|")
        ));
    }
    match (&r.runtime, &r.runtime_version) {
        (Some(n), Some(v)) => parts.push(format!("runtime={n} {v}")),
        (Some(n), None) => parts.push(format!("runtime={n}")),
        (None, Some(v)) => parts.push(format!("runtime {v}")),
        (None, None) => {}
    }
    if let Some(k) = &r.kubernetes {
        parts.push(format!("kubernetes {k}"));
    }
    match &r.openshift {
        Some(crate::scenario::OpenShiftReq::Present(true)) => parts.push("openshift".into()),
        Some(crate::scenario::OpenShiftReq::Present(false)) => parts.push("not openshift".into()),
        Some(crate::scenario::OpenShiftReq::Version(v)) => parts.push(format!("openshift {v}")),
        None => {}
    }
    for (g, on) in &r.feature_gates {
        parts.push(format!("gate {g}={on}"));
    }
    if let Some(u) = r.user_namespaces {
        parts.push(format!("userNamespaces={u}"));
    }
    for (user, has) in &r.subids {
        parts.push(if *has {
            format!("subids for {user}")
        } else {
            format!("no subids for {user}")
        });
    }
    if let Some(k) = &r.kernel {
        parts.push(format!("kernel {k}"));
    }
    if let Some(s) = r.sends_node_userns_mode {
        parts.push(format!("sendsNodeUsernsMode={s}"));
    }
    if parts.is_empty() {
        "any target".into()
    } else {
        parts.join(", ")
    }
}

pub fn list(args: ListArgs) -> Result<Status, CliError> {
    let scenarios = load_or_report(args.paths)?;
    if args.json {
        let items: Vec<_> = scenarios
            .iter()
            .map(|s| {
                serde_json::json!({
                    "id": s.id,
                    "file": s.file.display().to_string(),
                    "topic": s.topic,
                    "description": s.spec.description.trim(),
                    "cites": s.spec.cites,
                    "requires": s.spec.requires,
                })
            })
            .collect();
        crate::cli::print_stdout(
            &(serde_json::to_string_pretty(&items).unwrap_or_default() + "\n"),
        );
    } else {
        let mut text = String::new();
        for s in &scenarios {
            let first = s.spec.description.lines().next().unwrap_or("").trim();
            text.push_str(&format!(
                "{}\n    {first}\n    requires: {}\n",
                s.id,
                requirements_line(&s.spec.requires)
            ));
        }
        crate::cli::print_stdout(&text);
    }
    Ok(Status::Ok)
}

/// The JSON Schema of scenario files, pretty-printed.
pub fn schema_text() -> String {
    let schema = schemars::schema_for!(ScenarioFile);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

pub fn schema(args: SchemaArgs) -> Result<Status, CliError> {
    let text = if args.results {
        crate::report::results::schema_text()
    } else if args.diagnoses {
        crate::diagnose::catalog::schema_text()
    } else {
        schema_text()
    };
    match args.write {
        None => crate::cli::print_stdout(&text),
        Some(p) => std::fs::write(&p, text)
            .map_err(|e| CliError::file(format!("cannot write {}", p.display()), e))?,
    }
    Ok(Status::Ok)
}
