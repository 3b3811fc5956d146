//! Real-node cases for the CRI target: each runs pods on the real runtime
//! and asserts the real observation, then that no sandbox of it is left.

use std::path::Path;
use std::time::Duration;

use libtest_mimic::{Failed, Trial};
use userns_e2e::facts::TargetKind;
use userns_e2e::observation::{Admission, Observation, Outcome, PodObservation};
use userns_e2e::parse::idmap::IdMap;
use userns_e2e::plan::{ExecPlan, KubeletUserns, ProbePlan};
use userns_e2e::scenario::{load, Scenario};
use userns_e2e::targets::cri::{CriOptions, CriTarget};
use userns_e2e::targets::{Target, TargetError};

use crate::NodeCtx;

fn pod(name: &str, spec: &str) -> String {
    format!("  - pod:\n      apiVersion: v1\n      kind: Pod\n      metadata: {{name: {name}}}\n      spec:\n        containers: [{{name: c, image: \"${{image.busybox}}\", command: [sleep, \"3600\"]}}]\n{spec}")
}

fn scenario(id: &str, pods: &[String]) -> Scenario {
    let text = format!(
        "description: real-node case\ncites: [FACTS.md#story-1]\npods:\n{}",
        pods.join("")
    );
    let spec = load::load_str(Path::new("case.yaml"), &text).unwrap_or_else(|e| panic!("{e:?}"));
    Scenario {
        id: id.into(),
        file: "case.yaml".into(),
        topic: "real-node".into(),
        spec,
    }
}

/// Runs a scenario on the node with the given probes; checks nothing of the run is left.
fn run(ctx: &NodeCtx, s: &Scenario, probes: Vec<ProbePlan>) -> Result<Observation, TargetError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(async {
        let options = CriOptions {
            state_dir: ctx.dir.join("cri-tests"),
            kind: TargetKind::Local,
            ..CriOptions::default()
        };
        let target = CriTarget::connect(&ctx.socket, options).await?;
        let facts = target.facts().await?;
        let run_id = format!("test-{}-{}", s.id, std::process::id());
        let mut probes = probes;
        probes.resize(s.spec.pods.len(), ProbePlan::default());
        let plan = ExecPlan {
            templates: target.templates(&facts),
            probes,
            timeout: Duration::from_secs(30),
            budget: Duration::from_secs(120),
            run_id: run_id.clone(),
            kubelet: KubeletUserns::GateOn,
        };
        let result = target.execute(s, &plan).await.into_result();
        let left = target.sandboxes_of_run(&run_id).await?;
        assert!(left.is_empty(), "sandboxes left behind: {left:?}");
        result
    })
}

fn one_line(map: Option<&IdMap>) -> Result<(u64, u64, u64), Failed> {
    let m = map.ok_or("no map observed")?;
    match m.0.as_slice() {
        [l] => Ok((l.inside, l.outside, l.length)),
        _ => Err(format!("expected one line, got {m}").into()),
    }
}

fn running(p: &PodObservation) -> Result<(), Failed> {
    if p.outcome != Outcome::Running {
        return Err(format!("pod {} not running: {:?}", p.name, p.outcome).into());
    }
    Ok(())
}

/// `0 <k·65536> 65536` with k ≥ 1 inside and from the host, identical for
/// uid and gid; the host uid of container root is the base.
fn assert_userns_slot(p: &PodObservation) -> Result<u64, Failed> {
    running(p)?;
    let (inside, base, len) = one_line(p.inside.uid_map.as_ref())?;
    if inside != 0 || len != 65536 || base < 65536 || base % 65536 != 0 {
        return Err(
            format!("uid_map {inside} {base} {len} is not 0 <k·65536> 65536 with k ≥ 1").into(),
        );
    }
    let host = p.host.as_ref().ok_or("no host view")?;
    for (what, m) in [
        ("gid_map inside", p.inside.gid_map.as_ref()),
        ("uid_map from host", host.uid_map.as_ref()),
        ("gid_map from host", host.gid_map.as_ref()),
    ] {
        if one_line(m)? != (0, base, 65536) {
            return Err(format!("{what} differs from the uid_map: {m:?}").into());
        }
    }
    Ok(base)
}

pub fn trials(ctx: &NodeCtx) -> Vec<Trial> {
    let c = ctx.clone();
    let mut out = vec![Trial::test(
        "cri/host-users-false-gets-an-aligned-slot",
        move || {
            let obs = run(
                &c,
                &scenario("slot", &[pod("userns", "        hostUsers: false\n")]),
                vec![],
            )?;
            let p = &obs.pods[0];
            let base = assert_userns_slot(p)?;
            let host_uid = p.host.as_ref().and_then(|h| h.host_uid);
            if host_uid != Some(base) {
                return Err(format!(
                    "container root should be host uid {base}, host says {host_uid:?}"
                )
                .into());
            }
            if !p.inside.id.as_deref().unwrap_or("").contains("uid=0(root)") {
                return Err(format!("id inside: {:?}", p.inside.id).into());
            }
            Ok(())
        },
    )];
    let c = ctx.clone();
    out.push(Trial::test("cri/two-pods-get-disjoint-ranges", move || {
        let hu = "        hostUsers: false\n";
        let obs = run(
            &c,
            &scenario("disjoint", &[pod("a", hu), pod("b", hu)]),
            vec![],
        )?;
        let a = assert_userns_slot(&obs.pods[0])?;
        let b = assert_userns_slot(&obs.pods[1])?;
        if a.abs_diff(b) < 65536 {
            return Err(format!("ranges overlap: {a} and {b}").into());
        }
        Ok(())
    }));
    let c = ctx.clone();
    out.push(Trial::test(
        "cri/no-user-namespace-reads-the-host-map",
        move || {
            let obs = run(&c, &scenario("hostmap", &[pod("plain", "")]), vec![])?;
            let p = &obs.pods[0];
            running(p)?;
            if one_line(p.inside.uid_map.as_ref())? != (0, 0, 4294967295)
                || one_line(p.inside.gid_map.as_ref())? != (0, 0, 4294967295)
            {
                return Err(format!("expected 0 0 4294967295, got {:?}", p.inside.uid_map).into());
            }
            Ok(())
        },
    ));
    let c = ctx.clone();
    out.push(Trial::test("cri/ping-group-range-full-fails-0-65535-works", move || {
        let sysctl = |v: &str| format!("        hostUsers: false\n        securityContext:\n          sysctls: [{{name: net.ipv4.ping_group_range, value: \"{v}\"}}]\n");
        let plan = ProbePlan { sysctls: vec!["net.ipv4.ping_group_range".into()], ..ProbePlan::default() };
        let obs = run(&c, &scenario("ping", &[pod("full", &sysctl("0 2147483647")), pod("ok", &sysctl("0 65535"))]), vec![plan.clone(), plan])?;
        match &obs.pods[0].outcome {
            Outcome::SandboxFailed { message, .. } if message.contains("invalid argument") => {}
            other => return Err(format!("0 2147483647 should fail with invalid argument, got {other:?}").into()),
        }
        running(&obs.pods[1])?;
        let v = obs.pods[1].inside.sysctls.get("net.ipv4.ping_group_range").cloned();
        if v.as_deref() != Some("0 65535") {
            return Err(format!("ping_group_range reads {v:?}").into());
        }
        Ok(())
    }));
    let c = ctx.clone();
    out.push(Trial::test("cri/run-as-user-1000", move || {
        let plan = ProbePlan {
            commands: vec![vec!["id".into(), "-u".into()]],
            ..ProbePlan::default()
        };
        let obs = run(
            &c,
            &scenario(
                "uid",
                &[
                    pod("host", "        securityContext: {runAsUser: 1000}\n"),
                    pod(
                        "userns",
                        "        hostUsers: false\n        securityContext: {runAsUser: 1000}\n",
                    ),
                ],
            ),
            vec![plan.clone(), plan],
        )?;
        for p in &obs.pods {
            running(p)?;
            let out = p.inside.exec.first().map(|e| e.stdout.trim().to_string());
            if out.as_deref() != Some("1000") {
                return Err(format!("pod {}: id -u printed {out:?}", p.name).into());
            }
        }
        let host_uid = |p: &PodObservation| p.host.as_ref().and_then(|h| h.host_uid);
        if host_uid(&obs.pods[0]) != Some(1000) {
            return Err(format!(
                "without a user namespace the host uid is 1000, got {:?}",
                host_uid(&obs.pods[0])
            )
            .into());
        }
        let base = assert_userns_slot(&obs.pods[1])?;
        if host_uid(&obs.pods[1]) != Some(base + 1000) {
            return Err(format!(
                "in the user namespace the host uid is base+1000 = {}, got {:?}",
                base + 1000,
                host_uid(&obs.pods[1])
            )
            .into());
        }
        Ok(())
    }));
    let c = ctx.clone();
    out.push(Trial::test("cri/crio-annotation-is-ignored-by-containerd", move || {
        let spec = "  - pod:\n      apiVersion: v1\n      kind: Pod\n      metadata:\n        name: annotated\n        annotations: {io.kubernetes.cri-o.userns-mode: \"auto:size=65536\"}\n      spec:\n        containers: [{name: c, image: \"${image.busybox}\", command: [sleep, \"3600\"]}]\n";
        let obs = run(&c, &scenario("annotation", &[spec.to_string()]), vec![])?;
        running(&obs.pods[0])?;
        if !obs.pods[0].inside.uid_map.as_ref().is_some_and(IdMap::is_host) {
            return Err(format!("expected the host map, got {:?}", obs.pods[0].inside.uid_map).into());
        }
        Ok(())
    }));
    let c = ctx.clone();
    out.push(Trial::test(
        "cri/unsupported-field-is-an-error-naming-it",
        move || {
            let spec = "        volumes: [{name: v, emptyDir: {}}]\n";
            match run(&c, &scenario("unsupported", &[pod("vol", spec)]), vec![]) {
                Err(e @ TargetError::Scenario { .. }) if e.chain().contains("spec.volumes") => {
                    Ok(())
                }
                other => {
                    Err(format!("expected an error naming spec.volumes, got {other:?}").into())
                }
            }
        },
    ));
    let c = ctx.clone();
    out.push(Trial::test(
        "cri/host-namespaces-with-user-namespace-are-refused",
        move || {
            let obs = run(
                &c,
                &scenario(
                    "hostnet",
                    &[pod(
                        "hostnet",
                        "        hostUsers: false\n        hostNetwork: true\n",
                    )],
                ),
                vec![],
            )?;
            match &obs.pods[0].admission {
                Admission::Refused { message, .. }
                    if message.contains("spec.hostNetwork: Forbidden") =>
                {
                    Ok(())
                }
                other => Err(format!("expected a refusal, got {other:?}").into()),
            }
        },
    ));
    out
}
