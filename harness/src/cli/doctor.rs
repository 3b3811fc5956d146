//! `doctor`: is this target ready for user-namespaced pods? Reads the facts,
//! runs a few tiny probe pods through the same runner as `run` (so they are
//! labelled and removed like a run's), and prints the readiness table of
//! `diagnose::doctor`, each row ok or the catalog entry with its fix.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::target_args::{self, TargetArgs};
use crate::diagnose::doctor;
use crate::exit::{CliError, Status};
use crate::runner::{self, Selection, Suite};
use crate::scenario::Scenario;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 ready, 1 not ready (a row failed), 2 usage, 3 the target is unusable, 130 interrupted (probe pods removed)."
)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print the table as JSON (`{ready, target, rows: [{check, status, observed, diagnosis}]}`).
    #[arg(long)]
    pub json: bool,
    /// Read the facts only; create no probe pod.
    #[arg(long)]
    pub no_probes: bool,
}

/// The probe pods: a `hostUsers: false` pod, and on CRI-O an annotation pod
/// under the kubelet mode the target uses (no `sendsNodeUsernsMode`
/// requirement, so the target's default).
const PROBES: &[(&str, &str)] = &[
    (
        "doctor/host-users-false",
        r#"description: a hostUsers false pod runs in its own user namespace
cites: ["diagnoses/"]
pods:
  - pod:
      apiVersion: v1
      kind: Pod
      metadata: {name: doctor-userns}
      spec:
        hostUsers: false
        containers:
          - {name: c, image: "${image.busybox}", command: [sleep, "3600"]}
    expect:
      outcome: running
      uidMap: not-host
"#,
    ),
    (
        "doctor/crio-annotation",
        r#"description: a userns-mode annotation pod runs in its own user namespace
cites: ["diagnoses/"]
requires:
  runtime: cri-o
pods:
  - pod:
      apiVersion: v1
      kind: Pod
      metadata:
        name: doctor-annotation
        annotations:
          io.kubernetes.cri-o.userns-mode: "auto"
      spec:
        containers:
          - {name: c, image: "${image.busybox}", command: [sleep, "3600"]}
    expect:
      outcome: running
      uidMap: not-host
"#,
    ),
];

fn probes() -> Result<Vec<Scenario>, CliError> {
    PROBES
        .iter()
        .map(|(id, text)| {
            let file =
                Path::new("doctor").join(format!("{}.yaml", id.trim_start_matches("doctor/")));
            let spec = crate::scenario::load::load_str(&file, text).map_err(|e| {
                CliError::Usage(format!(
                    "built-in probe {id}: {}",
                    e.iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                ))
            })?;
            Ok(Scenario {
                id: id.to_string(),
                file,
                topic: "doctor".into(),
                spec,
            })
        })
        .collect()
}

/// No progress lines while the probes run.
struct Silent;

impl crate::progress::Progress for Silent {}

pub fn doctor(args: DoctorArgs) -> Result<Status, CliError> {
    args.target.check()?;
    let probes = if args.no_probes {
        Vec::new()
    } else {
        probes()?
    };
    let rt = crate::cli::runtime()?;
    let result = rt.block_on(async {
        let target = target_args::connect(&args.target).await?;
        let facts = target.facts().await?;
        Ok::<_, CliError>((target, facts))
    });
    let result = result.map(|(target, facts)| {
        let target: Arc<dyn crate::targets::Target> = Arc::from(target);
        let run_id = runner::new_run_id();
        let interrupted = Arc::new(AtomicBool::new(false));
        // Ctrl-C removes the probe pods, as it does a run's.
        let on_interrupt =
            super::run::on_ctrl_c(&rt, target.clone(), run_id.clone(), interrupted.clone());
        let suite = Arc::new(Suite {
            templates: target.templates(&facts),
            target,
            facts: facts.clone(),
            run_id,
            timeout: None,
            runtime: rt.handle().clone(),
            interrupted: interrupted.clone(),
        });
        // The table is the output; the probes' own lines would only repeat it.
        let results = suite.run_with_progress(&probes, &Selection::default(), Arc::new(Silent));
        on_interrupt.abort();
        let rows = doctor::rows(
            crate::diagnose::catalog::shipped(),
            &facts,
            &results.results,
        );
        (
            facts,
            rows,
            interrupted.load(std::sync::atomic::Ordering::SeqCst),
        )
    });
    args.target.stop_local_node();
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    let (facts, rows, interrupted) = result?;
    if interrupted {
        return Ok(Status::Interrupted);
    }
    let ready = doctor::ready(&rows);
    if args.json {
        let value = serde_json::json!({
            "ready": ready,
            "target": facts.label(),
            "rows": rows,
        });
        crate::cli::print_stdout(
            &(serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"),
        );
    } else {
        crate::cli::print_stdout(&doctor::table(&facts.label(), &rows, ready));
    }
    Ok(if ready { Status::Ok } else { Status::Failed })
}
