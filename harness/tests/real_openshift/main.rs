//! Tests against a real OpenShift control plane: MicroShift (OpenShift's
//! Kubernetes with SCC admission, the default SCCs, namespace uid ranges)
//! from `$USERNS_E2E_SHARED/openshift` (else `<repo>/../shared/openshift`),
//! started by this binary and stopped at its end. Absent MicroShift is a skip
//! with a message, except with `CI=true`, where it is a failure.
//!
//! The control plane has no kubelet: the whole suite runs, the scenarios
//! decided at admission ([`ADMISSION_ONLY`]) must pass, and every other one
//! must skip for a reason this server confirms (no node, so no runtime; see
//! [`SKIPS_THE_SERVER_CONFIRMS`]); the suite runs three times
//! (a RoleBinding that is not yet effective would fail one of them). After the
//! stop, nothing of MicroShift may be left: process, mount, bridge, and the
//! host sysctls a kubelet would rewrite are as before.

#[path = "../support/absent.rs"]
mod absent;
mod cluster;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use libtest_mimic::{Failed, Trial};
use serde_json::Value;

/// Scenarios decided by admission (no pod has to run), relative to the repo:
/// each must pass on the control plane.
const ADMISSION_ONLY: &[&str] = &[
    "scenarios/openshift-scc/required-scc-missing-refused.yaml",
    "scenarios/openshift-scc/anyuid-refused-by-namespace-pod-security.yaml",
    "scenarios/host-users/host-pid-refused.yaml",
    "scenarios/host-users/host-ipc-refused.yaml",
    "scenarios/host-users/host-network-refused.yaml",
    "scenarios/story/07-restricted-refuses-root.yaml",
    "scenarios/openshift-scc/required-scc-pins.yaml",
    "scenarios/openshift-scc/restricted-v3-requires-pod-level.yaml",
    "scenarios/openshift-scc/restricted-v3-uid-range.yaml",
    "scenarios/openshift-scc/restricted-v2-over-v3-unpinned.yaml",
    "scenarios/openshift-scc/restricted-v3-refuses-fsgroup-200.yaml",
    "scenarios/openshift-scc/restricted-v3-refuses-setuid.yaml",
    "scenarios/openshift-scc/restricted-v3-refuses-container-root.yaml",
    "scenarios/openshift-scc/restricted-v3-refuses-host-users-true.yaml",
    "scenarios/openshift-scc/restricted-v3-refuses-privileged.yaml",
    "scenarios/openshift-scc/restricted-v3-ignores-run-as-group.yaml",
    "scenarios/openshift-scc/restricted-v3-psa-refuses-unmasked-proc.yaml",
];

const RUNS: usize = 3;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate lives in <repo>/harness")
        .to_path_buf()
}

/// One run of the CLI: its summary line and the reports it wrote.
struct Run {
    summary: String,
    output: String,
    json: Value,
    json_text: String,
    junit: PathBuf,
}

/// Every run here: the kube target as the OpenShift user `test`, 20 s a scenario.
const RUN_AS_TEST: [&str; 7] = [
    "run",
    "--target",
    "kube",
    "--as",
    "test",
    "--timeout",
    "20s",
];

fn run_suite(kubeconfig: &Path, out: &Path, i: usize) -> Result<Run, String> {
    run_suite_with(kubeconfig, out, i, &[], None)
}

/// `extra` arguments and, with a kubelet, the state folder and crio folder
/// for the node-evidence shims (`oc debug node/…` → this host, `crictl` and
/// `crio` → MicroShift's CRI-O).
fn run_suite_with(
    kubeconfig: &Path,
    out: &Path,
    i: usize,
    extra: &[&str],
    node: Option<(&Path, &Path)>,
) -> Result<Run, String> {
    let json = out.join(format!("run{i}.json"));
    let junit = out.join(format!("run{i}.xml"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_userns-e2e"));
    if let Some((state, crio_bin)) = node {
        let shims = cluster::find()
            .map(|m| m.scripts.join("node-evidence"))
            .unwrap_or_default();
        let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real_openshift/shims");
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env(
            "PATH",
            format!("{}:{}:{path}", shims.display(), ours.display()),
        )
        .env("MICROSHIFT_STATE", state)
        .env("USERNS_E2E_CRIO_BIN", crio_bin);
    }
    let o = cmd
        .args(RUN_AS_TEST)
        .args(extra)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        // The whole suite: what cannot apply here must skip for a reason
        // this server confirms (see `each_run_passes`).
        .arg(repo().join("scenarios"))
        .output()
        .map_err(|e| format!("running userns-e2e: {e}"))?;
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let summary = output
        .lines()
        .rev()
        .find(|l| l.contains(" passed, "))
        .unwrap_or("(no summary line)")
        .to_string();
    let json_text = std::fs::read_to_string(&json)
        .map_err(|e| format!("run {i} wrote no JSON ({e}):\n{output}"))?;
    let json = serde_json::from_str(&json_text).map_err(|e| format!("run {i} JSON: {e}"))?;
    Ok(Run {
        summary,
        output,
        json,
        json_text,
        junit,
    })
}

fn summary_count(run: &Run, what: &str) -> u64 {
    run.json["summary"][what].as_u64().unwrap_or(u64::MAX)
}

/// Why a scenario may skip on a MicroShift control plane: facts this server
/// really reports (no node, so no runtime; OpenShift; its SCC list).
const SKIPS_THE_SERVER_CONFIRMS: &[&str] = &[
    "target reports no runtime",
    "the runtime reports no handler features",
    "the cluster reports no nodes",
    "needs a cluster that is not OpenShift",
    "this run uses kube",
    "needs SCC nested-container, the cluster has",
];

fn each_run_passes(runs: &[Run]) -> Result<(), Failed> {
    for (i, r) in runs.iter().enumerate() {
        let (failed, errored) = (summary_count(r, "failed"), summary_count(r, "errored"));
        let results = r.json["results"].as_array().cloned().unwrap_or_default();
        let status = |id: &str| {
            results
                .iter()
                .find(|x| x["id"] == id)
                .and_then(|x| x["verdict"]["status"].as_str().map(str::to_string))
        };
        let not_passed: Vec<&str> = ADMISSION_ONLY
            .iter()
            .map(|f| f.trim_start_matches("scenarios/").trim_end_matches(".yaml"))
            .filter(|id| status(id).as_deref() != Some("pass"))
            .collect();
        let contradicted: Vec<String> = results
            .iter()
            .filter(|x| x["verdict"]["status"] == "skip")
            .filter_map(|x| {
                let reason = x["verdict"]["reason"].as_str().unwrap_or("");
                (!SKIPS_THE_SERVER_CONFIRMS
                    .iter()
                    .any(|ok| reason.contains(ok)))
                .then(|| format!("{}: {reason}", x["id"]))
            })
            .collect();
        if failed != 0 || errored != 0 || !not_passed.is_empty() || !contradicted.is_empty() {
            return Err(format!(
                "run {i}: {failed} failed, {errored} errored; admission scenarios not passed: \
                 {not_passed:?}; skips the live server contradicts: {contradicted:?}\n{}",
                r.output
            )
            .into());
        }
    }
    Ok(())
}

fn junit_validates(runs: &[Run]) -> Result<(), Failed> {
    let xsd = repo().join("reports/junit-10.xsd");
    for r in runs {
        let out = Command::new("xmllint")
            .args(["--noout", "--schema"])
            .arg(&xsd)
            .arg(&r.junit)
            .output()
            .map_err(|e| format!("xmllint (Debian libxml2-utils): {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{} does not validate: {}",
                r.junit.display(),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
    }
    Ok(())
}

/// The OpenShift version, the admitting SCC of every admitted pod and the
/// namespace uid range of every scenario that ran.
/// The results of the scenarios that ran (not skipped).
fn ran(j: &Value) -> Result<Vec<&Value>, Failed> {
    let all = j["results"].as_array().ok_or("no results")?;
    let ran: Vec<&Value> = all
        .iter()
        .filter(|r| r["verdict"]["status"] != "skip")
        .collect();
    if ran.is_empty() {
        return Err("no scenario ran".into());
    }
    Ok(ran)
}

fn json_carries_openshift_facts(runs: &[Run]) -> Result<(), Failed> {
    let j = &runs[0].json;
    let version = j["environment"]["openshift"]["version"].as_str();
    if !version.is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit())) {
        return Err(format!("no OpenShift version in the results: {}", j["environment"]).into());
    }
    let sccs = j["environment"]["openshift"]["sccs"]
        .as_array()
        .ok_or("no SCC list in the results")?;
    let v3 = sccs
        .iter()
        .find(|s| s["name"] == "restricted-v3")
        .ok_or_else(|| format!("restricted-v3 missing from the SCC list: {sccs:?}"))?;
    if v3["userNamespaceLevel"] != "RequirePodLevel" || sccs.len() < 10 {
        return Err(format!("SCC list wrong: {sccs:?}").into());
    }
    let mut admitted = 0;
    for r in ran(j)? {
        let id = r["id"].as_str().unwrap_or("?");
        let t = &r["observation"]["templates"];
        let start = t["ns.uidRangeStart"]
            .as_str()
            .and_then(|s| s.parse::<u64>().ok());
        let size = t["ns.uidRangeSize"]
            .as_str()
            .and_then(|s| s.parse::<u64>().ok());
        if !matches!((start, size), (Some(s), Some(n)) if s >= 1_000_000_000 && n > 0) {
            return Err(format!("{id}: no namespace uid range in {t}").into());
        }
        for pod in r["observation"]["pods"].as_array().into_iter().flatten() {
            if pod["admission"]["result"] == "admitted" {
                admitted += 1;
                if pod["scc"].as_str().is_none_or(str::is_empty) {
                    return Err(format!("{id}: admitted pod without its SCC: {pod}").into());
                }
            }
        }
    }
    if admitted == 0 {
        return Err("no admitted pod in the run: the SCC fact was never exercised".into());
    }
    Ok(())
}

/// Pods are created only once the account may create them: the harness
/// asked the server (SelfSubjectAccessReview) and got an answer every time.
fn access_is_reviewed(runs: &[Run]) -> Result<(), Failed> {
    for r in runs {
        for res in ran(&r.json)? {
            let notes = res["observation"]["notes"].to_string();
            if !notes.contains("pods created as test") || notes.contains("could not ask whether") {
                return Err(format!("{}: notes {notes}", res["id"]).into());
            }
        }
    }
    Ok(())
}

/// Reports of a run made with a kubeconfig that holds a bearer token and a
/// client key contain neither.
fn reports_hold_no_credential(kubeconfig: &Path, out: &Path, token: &str) -> Result<(), Failed> {
    let kc = cluster::kubeconfig_with_token(kubeconfig, token, &out.join("token-kubeconfig"))?;
    let r = run_suite(&kc, out, 99)?;
    let key = cluster::client_key_data(kubeconfig)?;
    let junit = std::fs::read_to_string(&r.junit)?;
    let secrets = [
        ("bearer token", token.to_string()),
        ("client key (base64)", key.clone()),
        // any 32-character piece of the key, in case it is re-wrapped
        (
            "client key (piece)",
            key.chars().skip(64).take(32).collect(),
        ),
    ];
    for (name, secret) in &secrets {
        for (what, text) in [
            ("JSON", &r.json_text),
            ("JUnit", &junit),
            ("output", &r.output),
        ] {
            if text.contains(secret.as_str()) {
                return Err(format!("the {what} report contains the {name}").into());
            }
        }
    }
    if summary_count(&r, "passed") == 0 {
        return Err(format!(
            "the run with the token kubeconfig passed nothing:\n{}",
            r.output
        )
        .into());
    }
    Ok(())
}

/// Why a scenario may skip with the kubelet on the CRI-O node: the facts of
/// this node (CRI-O with the gate on, OpenShift, MicroShift's SCCs; the
/// node's /etc/subuid cannot be read through the API).
const SKIPS_WITH_THE_KUBELET: &[&str] = &[
    "needs runtime containerd, target reports cri-o",
    "needs sendsNodeUsernsMode=false, target has true",
    "needs a cluster that is not OpenShift",
    "this run uses kube",
    "needs SCC nested-container, the cluster has",
];

fn run_cli(args: &[&std::ffi::OsStr]) -> Result<String, String> {
    let o = Command::new(env!("CARGO_BIN_EXE_userns-e2e"))
        .args(args)
        .output()
        .map_err(|e| format!("userns-e2e: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    if o.status.success() {
        Ok(text)
    } else {
        Err(format!("userns-e2e {args:?} failed: {text}"))
    }
}

/// MicroShift with its kubelet on a CRI-O from the shared builds, with the
/// runtime and images the harness's CRI-O node provisions: the whole suite
/// once, 0 failed, every skip for a reason of this node. Leaves nothing.
fn kubelet_phase(ms: &cluster::MicroShift) -> Result<String, String> {
    let tarball = cluster::newest_crio().ok_or("no CRI-O build under the shared folder")?;
    let dir = cluster::state_dir().with_extension("crio");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let untar = Command::new("tar")
        .arg("-xJf")
        .arg(&tarball)
        .arg("-C")
        .arg(&dir)
        .status()
        .map_err(|e| e.to_string())?;
    if !untar.success() {
        return Err(format!("cannot unpack {}", tarball.display()));
    }
    let node = dir.join("node");
    let node_args = |verb: &'static str, purge: bool| {
        let mut a: Vec<std::ffi::OsString> = vec![
            "node".into(),
            verb.into(),
            "--runtime".into(),
            "cri-o".into(),
            "--crio".into(),
            dir.clone().into(),
            "--node-dir".into(),
            node.clone().into(),
        ];
        if purge {
            a.push("--purge".into());
        }
        a
    };
    let call =
        |a: Vec<std::ffi::OsString>| run_cli(&a.iter().map(|x| x.as_os_str()).collect::<Vec<_>>());
    // Provision conmon/runc and the test images once, then hand them to MicroShift's CRI-O.
    call(node_args("start", false))?;
    call(node_args("stop", false))?;
    let state = cluster::state_dir().with_extension("kubelet");
    let env = [
        ("CRIO_BIN", dir.join("bin")),
        ("CRIO_RUNTIME", node.join("runtime")),
        ("IMAGES", node.join("img")),
        // crun refuses containers on hybrid-cgroup hosts; runc works everywhere.
        ("RUNTIME", PathBuf::from("runc")),
    ];
    let started = std::time::Instant::now();
    let c = cluster::Cluster::start_with(ms, &state, &env)?;
    let result = c
        .wait_node_ready(std::time::Duration::from_secs(180))
        .and_then(|()| {
            eprintln!(
                "real_openshift: MicroShift with its kubelet ready after {:.1}s",
                started.elapsed().as_secs_f64()
            );
            let out = state.with_extension("kubelet-reports");
            let _ = std::fs::remove_dir_all(&out);
            std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
            let bin = dir.join("bin");
            let r = run_suite_with(
                &c.kubeconfig(),
                &out,
                0,
                &["--node-evidence"],
                Some((&state, &bin)),
            );
            let _ = std::fs::remove_dir_all(&out);
            r
        });
    let left = c.stop();
    let purged = call(node_args("stop", true));
    let _ = std::fs::remove_dir_all(&dir);
    let run = result?;
    if !left.is_empty() {
        return Err(format!("left after stop: {left:?}"));
    }
    purged?;
    let (failed, errored) = (
        summary_count(&run, "failed"),
        summary_count(&run, "errored"),
    );
    let results = run.json["results"].as_array().cloned().unwrap_or_default();
    let contradicted: Vec<String> = results
        .iter()
        .filter(|x| x["verdict"]["status"] == "skip")
        .filter_map(|x| {
            let reason = x["verdict"]["reason"].as_str().unwrap_or("");
            (!SKIPS_WITH_THE_KUBELET.iter().any(|ok| reason.contains(ok)))
                .then(|| format!("{}: {reason}", x["id"]))
        })
        .collect();
    if failed != 0 || errored != 0 || !contradicted.is_empty() || summary_count(&run, "passed") < 30
    {
        return Err(format!(
            "with the kubelet: {}; skips this node contradicts: {contradicted:?}\n{}",
            run.summary, run.output
        ));
    }
    Ok(run.summary)
}

/// Stops MicroShift while a run is in the middle of the OpenShift scenarios:
/// the run must end by itself with error verdicts in the client's words, its
/// reports written, and every namespace it made either deleted or named as a
/// leftover (for `cleanup` once the server is back). Returns what the stop
/// left behind, and the check.
fn server_goes_away(
    cluster: cluster::Cluster,
    out: &Path,
) -> (Vec<String>, Result<String, String>) {
    use std::io::{BufRead, BufReader};
    let json = out.join("gone.json");
    let child = Command::new(env!("CARGO_BIN_EXE_userns-e2e"))
        .args(RUN_AS_TEST)
        .args(["--test-threads", "1"])
        .arg("--kubeconfig")
        .arg(cluster.kubeconfig())
        .arg("--json")
        .arg(&json)
        .arg(repo().join("scenarios/openshift-scc"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return (cluster.stop(), Err(format!("userns-e2e: {e}"))),
    };
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    for line in lines.by_ref() {
        if line.map(|l| l.ends_with("... ok")).unwrap_or(true) {
            break;
        }
    }
    let left = cluster.stop();
    let drain = std::thread::spawn(move || lines.count());
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Ok(s),
            Ok(None) if started.elapsed() > std::time::Duration::from_secs(180) => {
                let _ = child.kill();
                break Err(
                    "the run did not end within 180 s of the API server going away".to_string(),
                );
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(100)),
            Err(e) => break Err(e.to_string()),
        }
    };
    let _ = drain.join();
    let check = status.and_then(|status| {
        let text = std::fs::read_to_string(&json)
            .map_err(|e| format!("no reports after the server went away: {e}"))?;
        let j: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let results = j["results"].as_array().cloned().unwrap_or_default();
        let errors: Vec<&Value> = results
            .iter()
            .filter(|r| r["verdict"]["status"] == "error")
            .collect();
        if status.code() != Some(1) || errors.is_empty() {
            return Err(format!(
                "exit {:?}, summary {}",
                status.code(),
                j["summary"]
            ));
        }
        for e in &errors {
            let reason = e["verdict"]["reason"].as_str().unwrap_or("");
            // The client's own words about the connection, not a generic failure.
            if !(reason.contains("onnect")
                || reason.contains("refused")
                || reason.contains("error trying"))
            {
                return Err(format!(
                    "{}: reason without the client's words: {reason}",
                    e["id"]
                ));
            }
            let ns = e["observation"]["templates"]["ns.name"].as_str();
            let leftovers = e["observation"]["leftovers"].to_string();
            if let Some(ns) = ns {
                if !leftovers.contains(ns) {
                    return Err(format!(
                        "{}: namespace {ns} neither deleted nor named: {leftovers}",
                        e["id"]
                    ));
                }
            }
        }
        let first = errors
            .first()
            .map(|e| format!("{}: {}", e["id"], e["verdict"]["reason"]))
            .unwrap_or_default();
        Ok(format!(
            "{} errored, reports written, exit 1 (first: {first})",
            errors.len()
        ))
    });
    (left, check)
}

fn main() -> ExitCode {
    let mut args = libtest_mimic::Arguments::from_args();
    // One cluster, runs one after another (2 CPUs; timing matters more than parallelism).
    args.test_threads = Some(1);
    let Some(ms) = cluster::find() else {
        let why = "no MicroShift tarball found under $USERNS_E2E_SHARED/openshift or \
                   <repo>/../shared/openshift";
        return if absent::skipped_or_fails("real_openshift", why) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    };
    if !userns_e2e::targets::local::is_root() {
        eprintln!("real_openshift: MicroShift needs root");
        return ExitCode::FAILURE;
    }
    let before = cluster::sysctls();
    let state = cluster::state_dir();
    let started = std::time::Instant::now();
    let cluster = match cluster::Cluster::start(&ms, &state) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("real_openshift: MicroShift could not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "real_openshift: MicroShift control plane ready after {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let out = state.with_extension("reports");
    let _ = std::fs::remove_dir_all(&out);
    let prepared = std::fs::create_dir_all(&out)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            (0..RUNS)
                .map(|i| {
                    let r = run_suite(&cluster.kubeconfig(), &out, i)?;
                    eprintln!("real_openshift: run {}: {}", i + 1, r.summary);
                    Ok(r)
                })
                .collect::<Result<Vec<_>, String>>()
        });
    let token = cluster.service_account_token();
    let conclusion = match prepared {
        Ok(runs) => {
            let runs = std::sync::Arc::new(runs);
            let kc = cluster.kubeconfig();
            let mut trials = Vec::new();
            for (name, f) in [
                (
                    "suite_passes_three_times",
                    each_run_passes as fn(&[Run]) -> _,
                ),
                ("junit_validates", junit_validates),
                ("json_carries_openshift_facts", json_carries_openshift_facts),
                ("access_is_reviewed", access_is_reviewed),
            ] {
                let runs = runs.clone();
                trials.push(Trial::test(name, move || f(&runs)));
            }
            let out2 = out.clone();
            trials.push(Trial::test("reports_hold_no_credential", move || {
                let token = token.map_err(|e| format!("no ServiceAccount token: {e}"))?;
                reports_hold_no_credential(&kc, &out2, &token)
            }));
            libtest_mimic::run(&args, trials).exit_code()
        }
        Err(e) => {
            eprintln!("real_openshift: {e}");
            ExitCode::FAILURE
        }
    };
    // The API server goes away in the middle of a run: this stops the cluster.
    let (mut left, fault) = server_goes_away(cluster, &out);
    match fault {
        Ok(summary) => eprintln!("real_openshift: API server stopped mid-run: {summary}"),
        Err(e) => left.push(format!("the API-server-goes-away check failed: {e}")),
    }
    // Then the running scenarios, with the kubelet on CRI-O.
    match kubelet_phase(&ms) {
        Ok(summary) => eprintln!("real_openshift: with the kubelet on CRI-O: {summary}"),
        Err(e) => left.push(format!("the kubelet phase failed: {e}")),
    }
    let after = cluster::sysctls();
    let _ = std::fs::remove_dir_all(&out);
    let mut clean = true;
    for l in &left {
        eprintln!("real_openshift: left after stop: {l}");
        clean = false;
    }
    if before != after {
        eprintln!("real_openshift: host sysctls changed: before {before:?}, after {after:?}");
        clean = false;
    }
    if clean {
        eprintln!("real_openshift: MicroShift stopped; no process, mount or bridge left; sysctls as before");
        conclusion
    } else {
        ExitCode::FAILURE
    }
}
