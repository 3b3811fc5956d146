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

/// On OpenShift with restricted-v3, a user-namespaced pod is ready only when
/// it pins that SCC (the restricted-v3 row says why): the probe does what
/// such a pod must, so `ready` answers for pods written the platform's way.
const PIN_RESTRICTED_V3: (&str, &str) = (
    "metadata: {name: doctor-userns}",
    "metadata: {name: doctor-userns, annotations: {openshift.io/required-scc: restricted-v3}}",
);

fn probes(facts: &crate::facts::Facts) -> Result<Vec<Scenario>, CliError> {
    let pin = facts
        .openshift
        .as_ref()
        .is_some_and(|os| os.sccs.iter().any(|s| s.name == "restricted-v3"));
    PROBES
        .iter()
        .map(|(id, text)| {
            let text = if pin {
                text.replace(PIN_RESTRICTED_V3.0, PIN_RESTRICTED_V3.1)
            } else {
                text.to_string()
            };
            let file =
                Path::new("doctor").join(format!("{}.yaml", id.trim_start_matches("doctor/")));
            let spec = crate::scenario::load::load_str(&file, &text).map_err(|e| {
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
    let rt = crate::cli::runtime()?;
    let result = rt.block_on(async {
        let target = target_args::connect(&args.target).await?;
        let facts = target.facts().await?;
        // As `run` does: the permissions it goes on without, on stderr.
        for line in facts.warnings() {
            eprintln!("warning: {line}");
        }
        let probes = if args.no_probes {
            Vec::new()
        } else {
            probes(&facts)?
        };
        Ok::<_, CliError>((target, facts, probes))
    });
    let result = result.map(|(target, facts, probes)| {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn facts_of(fixture: &str) -> crate::facts::Facts {
        let v: serde_json::Value = serde_json::from_str(fixture).unwrap();
        serde_json::from_value(v["environment"].clone()).unwrap()
    }

    fn pinned(probes: &[Scenario]) -> bool {
        let p = probes.iter().find(|p| p.id == "doctor/host-users-false");
        serde_json::to_string(&p.unwrap().spec.pods[0].pod)
            .unwrap()
            .contains("openshift.io/required-scc")
    }

    #[test]
    fn the_user_namespace_probe_pins_restricted_v3_where_it_exists() {
        let openshift = facts_of(include_str!(
            "../diagnose/fixtures/openshift-unpinned-restricted-v2.json"
        ));
        assert!(pinned(&probes(&openshift).unwrap()));
        let mut without = openshift.clone();
        if let Some(os) = without.openshift.as_mut() {
            os.sccs.retain(|s| s.name != "restricted-v3");
        }
        assert!(!pinned(&probes(&without).unwrap()));
        let node = facts_of(include_str!("../diagnose/fixtures/crio-hidden-subids.json"));
        assert!(!pinned(&probes(&node).unwrap()));
    }
}
