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
mod in_cluster;
#[path = "../support/predicted.rs"]
mod predicted;

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
    // The whole suite: what cannot apply here must skip for a reason this
    // server confirms (see `each_run_passes`).
    run_as_test(
        kubeconfig,
        out,
        &format!("run{i}"),
        extra,
        node,
        &[repo().join("scenarios")],
    )
}

/// One `run` as `test` of `paths`, its reports named `<name>.json` and
/// `<name>.xml` in `out`; with `node`, the node-evidence shims on PATH.
fn run_as_test(
    kubeconfig: &Path,
    out: &Path,
    name: &str,
    extra: &[&str],
    node: Option<(&Path, &Path)>,
    paths: &[PathBuf],
) -> Result<Run, String> {
    let json = out.join(format!("{name}.json"));
    let junit = out.join(format!("{name}.xml"));
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
        .args(paths)
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
        .map_err(|e| format!("{name} wrote no JSON ({e}):\n{output}"))?;
    let json = serde_json::from_str(&json_text).map_err(|e| format!("{name} JSON: {e}"))?;
    Ok(Run {
        summary,
        output,
        json,
        json_text,
        junit,
    })
}

/// A run of some scenario files (relative to the repo) as `test`.
fn run_scenarios(kubeconfig: &Path, out: &Path, files: &[&str]) -> Result<Run, String> {
    let paths: Vec<PathBuf> = files.iter().map(|f| repo().join(f)).collect();
    run_as_test(kubeconfig, out, "some", &[], None, &paths)
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
    // 5.0's gate is on (read from the cluster); the gate-off scenario cannot apply.
    "needs feature gate UserNamespacesSupport=false, target has UserNamespacesSupport=true",
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

/// A CRI-O build from the shared folder, unpacked, with the runtime and test
/// images the harness's CRI-O node provisions, for MicroShift's private
/// CRI-O: `f` gets the environment `start.sh` needs and the crio folder.
/// Afterwards the node is purged and the build removed.
fn with_crio_node<T>(
    tarball: &Path,
    suffix: &str,
    f: impl FnOnce(&[(&str, PathBuf)], &Path) -> Result<T, String>,
) -> Result<T, String> {
    let dir = cluster::state_dir().with_extension(format!("crio-{suffix}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let untar = Command::new("tar")
        .arg("-xJf")
        .arg(tarball)
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
    let result = call(node_args("start", false))
        .and_then(|_| call(node_args("stop", false)))
        .and_then(|_| {
            let env = [
                ("CRIO_BIN", dir.join("bin")),
                ("CRIO_RUNTIME", node.join("runtime")),
                ("IMAGES", node.join("img")),
                // crun refuses containers on hybrid-cgroup hosts; runc works everywhere.
                ("RUNTIME", PathBuf::from("runc")),
            ];
            f(&env, &dir.join("bin"))
        });
    let purged = call(node_args("stop", true));
    let _ = std::fs::remove_dir_all(&dir);
    let out = result?;
    purged?;
    Ok(out)
}

/// Starts MicroShift with its kubelet (`kubelet_extra` under `kubelet:` in its
/// config), waits for the node, runs `f` with the cluster, its state folder,
/// then stops it: anything left is an error.
fn with_kubelet<T>(
    ms: &cluster::MicroShift,
    env: &[(&str, PathBuf)],
    suffix: &str,
    kubelet_extra: Option<&str>,
    f: impl FnOnce(&cluster::Cluster, &Path) -> Result<T, String>,
) -> Result<T, String> {
    let state = cluster::state_dir().with_extension(suffix);
    let started = std::time::Instant::now();
    let c = cluster::Cluster::start_configured(ms, &state, env, kubelet_extra)?;
    let result = c
        .wait_node_ready(std::time::Duration::from_secs(180))
        .and_then(|()| {
            eprintln!(
                "real_openshift: MicroShift ({suffix}) with its kubelet ready after {:.1}s",
                started.elapsed().as_secs_f64()
            );
            f(&c, &state)
        });
    let left = c.stop();
    let out = result?;
    if !left.is_empty() {
        return Err(format!("left after stop: {left:?}"));
    }
    Ok(out)
}

/// A run's results that must hold: nothing failed or errored, and every skip
/// for one of `allowed` reasons.
fn run_holds(run: &Run, allowed: &[&str], what: &str) -> Result<(), String> {
    let results = run.json["results"].as_array().cloned().unwrap_or_default();
    let contradicted: Vec<String> = results
        .iter()
        .filter(|x| x["verdict"]["status"] == "skip")
        .filter_map(|x| {
            let reason = x["verdict"]["reason"].as_str().unwrap_or("");
            (!allowed.iter().any(|ok| reason.contains(ok)))
                .then(|| format!("{}: {reason}", x["id"]))
        })
        .collect();
    let (failed, errored) = (summary_count(run, "failed"), summary_count(run, "errored"));
    if failed != 0 || errored != 0 || !contradicted.is_empty() {
        return Err(format!(
            "{what}: {}; skips this cluster contradicts: {contradicted:?}\n{}",
            run.summary, run.output
        ));
    }
    Ok(())
}

/// A fresh folder for one run's reports.
fn reports_dir(state: &Path) -> Result<PathBuf, String> {
    let out = state.with_extension("reports");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The whole suite with `--node-evidence` on a kubelet phase's cluster: it
/// must hold (`allowed`: the skip reasons and what to call the run), and its
/// results are kept in [`compare_dir`] as `name` for the version comparison.
fn suite_on_the_node(
    c: &cluster::Cluster,
    state: &Path,
    crio_bin: &Path,
    out: &Path,
    (allowed, what): (&[&str], &str),
    name: &str,
) -> Result<Run, String> {
    let run = run_suite_with(
        &c.kubeconfig(),
        out,
        0,
        &["--node-evidence"],
        Some((state, crio_bin)),
    )?;
    run_holds(&run, allowed, what)?;
    std::fs::create_dir_all(compare_dir()).map_err(|e| e.to_string())?;
    std::fs::write(compare_dir().join(name), &run.json_text).map_err(|e| e.to_string())?;
    Ok(run)
}

/// Where the kubelet phases keep the results `compare` reads across versions.
fn compare_dir() -> PathBuf {
    cluster::state_dir().with_extension("compare")
}

/// MicroShift 5.0 with its kubelet on the newest shared CRI-O: the whole
/// suite with `--node-evidence` (0 failed, every skip for a reason of this
/// node, its results kept for the comparison with 4.19), then without it: a
/// user without node access gets no false failure (the host uid is "not
/// checked"). Leaves nothing.
fn kubelet_phase(ms: &cluster::MicroShift) -> Result<String, String> {
    let tarball = cluster::newest_crio().ok_or("no CRI-O build under the shared folder")?;
    with_crio_node(&tarball, "newest", |env, bin| {
        with_kubelet(ms, env, "kubelet", None, |c, state| {
            let out = reports_dir(state)?;
            let run = suite_on_the_node(
                c,
                state,
                bin,
                &out,
                (SKIPS_WITH_THE_KUBELET, "with the kubelet"),
                "openshift-5.0.json",
            )?;
            if summary_count(&run, "passed") < 30 {
                return Err(format!("with the kubelet: only {}", run.summary));
            }
            let plain = run_suite(&c.kubeconfig(), &out, 1)?;
            run_holds(
                &plain,
                SKIPS_WITHOUT_NODE_EVIDENCE,
                "without --node-evidence",
            )?;
            not_checked_without_host_view(&plain)?;
            let broken = broken_diagnosed(&c.kubeconfig(), &out, &["unpinned-host-users.yaml"]);
            let _ = std::fs::remove_dir_all(&out);
            let doctor = doctor_reports_sccs(&c.kubeconfig(), "5.0", "tied with restricted-v2")?;
            let ote = ote_run_test_three(&c.kubeconfig(), &plain)?;
            let inside = in_cluster::phase(&c.kubeconfig(), state, &plain.json)?;
            Ok(format!(
                "{}; without --node-evidence: {}; {}; {doctor}; {ote}; {inside}",
                run.summary, plain.summary, broken?
            ))
        })
    })
}

/// `ote run-test` of three scenario names, as origin invokes an extension
/// (KUBECONFIG in the environment, `-n` per name, `-o jsonl`): one result
/// line each, `result` as the outside run of the same scenarios judged them.
fn ote_run_test_three(kubeconfig: &Path, outside: &Run) -> Result<String, String> {
    let results = outside.json["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let status = |id: &str| {
        results
            .iter()
            .find(|r| r["id"] == id)
            .and_then(|r| r["verdict"]["status"].as_str())
            .map(str::to_string)
    };
    // Two that run pods and one that skips on this cluster.
    let ids = [
        "host-users/aligned-range",
        "openshift-scc/restricted-v2-uid-from-namespace",
        "containerd/no-user-namespace",
    ];
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_userns-e2e"));
    cmd.args(["ote", "run-test", "-o", "jsonl"])
        .env("KUBECONFIG", kubeconfig);
    for id in ids {
        cmd.args(["-n", &format!("[sig-node][userns-e2e] {id}")]);
    }
    let o = cmd.output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["name"].is_string() && v["result"].is_string())
        .collect();
    let mut seen = Vec::new();
    for id in ids {
        let name = format!("[sig-node][userns-e2e] {id}");
        let want = match status(id).as_deref() {
            Some("pass") => "passed",
            Some("skip") => "skipped",
            Some("fail") | Some("error") => "failed",
            other => return Err(format!("{id}: the outside run has {other:?}")),
        };
        let got: Vec<&Value> = lines
            .iter()
            .filter(|l| l["name"] == name.as_str())
            .collect();
        if got.len() != 1 || got[0]["result"] != want {
            return Err(format!(
                "ote run-test: want one line for {name} with result {want}, got {got:?}\nstdout:\n{stdout}\nstderr:\n{}",
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        seen.push(want);
    }
    Ok(format!("ote run-test of 3 names: {}", seen.join(", ")))
}

/// Without a host view the host uid is reported as not checked, and the rest
/// of the scenario is still judged (these pass on their maps and `id`).
fn not_checked_without_host_view(run: &Run) -> Result<(), String> {
    let results = run.json["results"].as_array().cloned().unwrap_or_default();
    let unchecked: Vec<&str> = results
        .iter()
        .filter(|r| r["verdict"]["status"] == "pass")
        .filter(|r| {
            r["verdict"]["checks"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["notChecked"].is_string())
        })
        .filter_map(|r| r["id"].as_str())
        .collect();
    if !unchecked.contains(&"host-users/aligned-range") || unchecked.len() < 3 {
        return Err(format!(
            "without --node-evidence the host uid should be 'not checked' in the hostUid scenarios; passed with a not-checked check: {unchecked:?}\n{}",
            run.output
        ));
    }
    Ok(())
}

/// Why a scenario may skip on MicroShift 5.0 with its kubelet when the run
/// has no node evidence: the node's subordinate ids and CRI-O's config are
/// facts only the node shows.
const SKIPS_WITHOUT_NODE_EVIDENCE: &[&str] = &[
    "needs runtime containerd, target reports cri-o",
    "needs sendsNodeUsernsMode=false, target has true",
    "needs a cluster that is not OpenShift",
    "this run uses kube",
    "needs SCC nested-container, the cluster has",
    "/etc/subuid is not readable on this target",
    "does not report its configuration",
    "needs feature gate UserNamespacesSupport=false",
];

/// Why a scenario may skip on MicroShift 4.19's control plane: no node, its
/// version (no restricted-v3, no nested-container), the gate off.
const SKIPS_ON_4_19: &[&str] = &[
    "target reports no runtime",
    "the runtime reports no handler features",
    "the cluster reports no nodes",
    "needs a cluster that is not OpenShift",
    "this run uses kube",
    "needs OpenShift >=4.20, target has 4.19.0",
    "needs feature gate UserNamespacesSupport=true, target has UserNamespacesSupport=false",
];

/// Why a scenario may skip on MicroShift 4.19 with its kubelet on CRI-O
/// 1.33: the facts of that node (gate off, CRI-O < 1.35, the subids present,
/// the default CRI-O config).
const SKIPS_ON_4_19_KUBELET: &[&str] = &[
    "needs runtime containerd, target reports cri-o 1.33",
    "needs a cluster that is not OpenShift",
    "this run uses kube",
    "needs OpenShift >=4.20, target has 4.19.0",
    "needs feature gate UserNamespacesSupport=true, target has UserNamespacesSupport=false",
    "needs sendsNodeUsernsMode=true, target has false",
    "needs runtime version >=1.35.0, target has 1.33",
    "needs a node without subordinate ids for user \"containers\", node has them",
    "needs runtime config crio.runtime.",
];

/// MicroShift 4.19's control plane alone: the whole suite once; what is
/// decided at admission passes, the rest skips for a reason of 4.19.
fn control_plane_4_19(ms: &cluster::MicroShift) -> Result<String, String> {
    let state = cluster::state_dir().with_extension("419");
    let c = cluster::Cluster::start(ms, &state)?;
    let result = reports_dir(&state).and_then(|out| {
        let r = run_suite(&c.kubeconfig(), &out, 0);
        let _ = std::fs::remove_dir_all(&out);
        let doctor = doctor_reports_sccs(&c.kubeconfig(), "4.19", "absent");
        r.and_then(|r| doctor.map(|d| (r, d)))
    });
    let left = c.stop();
    let (run, doctor) = result?;
    if !left.is_empty() {
        return Err(format!("left after stop: {left:?}"));
    }
    run_holds(&run, SKIPS_ON_4_19, "4.19 control plane")?;
    Ok(format!("{}; {doctor}", run.summary))
}

/// MicroShift 4.19 with its kubelet on the oldest shared CRI-O: the whole
/// suite as `test` with `--node-evidence` (0 failed; the annotation through a
/// real kubelet: at least 15 annotation/story scenarios pass and at least 6
/// pods run in a user namespace); then the same cluster with the kubelet
/// gate turned on in MicroShift's config: the harness reads the gate from the
/// cluster, and the scenario that needs it runs.
fn kubelet_phase_4_19(ms: &cluster::MicroShift) -> Result<String, String> {
    let tarball = cluster::oldest_crio().ok_or("no CRI-O build under the shared folder")?;
    with_crio_node(&tarball, "oldest", |env, bin| {
        let suite = with_kubelet(ms, env, "kubelet419", None, |c, state| {
            let out = reports_dir(state)?;
            let run = suite_on_the_node(
                c,
                state,
                bin,
                &out,
                (SKIPS_ON_4_19_KUBELET, "4.19 with the kubelet"),
                "openshift-4.19.json",
            );
            let _ = std::fs::remove_dir_all(&out);
            let run = run?;
            annotation_runs_for_real(&run)?;
            Ok(run.summary)
        })?;
        let gate = with_kubelet(
            ms,
            env,
            "kubelet419gate",
            Some("  featureGates:\n    UserNamespacesSupport: true\n"),
            |c, state| {
                let out = reports_dir(state)?;
                let r = run_scenarios(
                    &c.kubeconfig(),
                    &out,
                    &["scenarios/annotation/kubelet-gate-hides-annotation.yaml"],
                );
                let _ = std::fs::remove_dir_all(&out);
                let r = r?;
                let env = &r.json["environment"];
                let id = "annotation/kubelet-gate-hides-annotation";
                let status = r.json["results"][0]["verdict"]["status"].clone();
                if env["featureGates"]["UserNamespacesSupport"] != true
                    || r.json["results"][0]["id"] != id
                    || status != "pass"
                {
                    return Err(format!(
                        "with the kubelet gate on, {id} must run and pass (gates {}, from {}): {}\n{}",
                        env["featureGates"], env["gateSources"], r.summary, r.output
                    ));
                }
                Ok(format!(
                    "gate on ({}): {id} passes",
                    env["gateSources"]["UserNamespacesSupport"]
                        .as_str()
                        .unwrap_or("?")
                ))
            },
        )?;
        Ok(format!("{suite}; {gate}"))
    })
}

/// The run carries OpenShift 4.19.0 and Kubernetes 1.32.13, and the
/// annotation really works through the kubelet: at least 15 annotation or
/// story scenarios pass, and at least 6 pods of passing scenarios ran in a
/// user namespace (their uid_map is not the host's).
fn annotation_runs_for_real(run: &Run) -> Result<(), String> {
    let env = &run.json["environment"];
    if env["openshift"]["version"] != "4.19.0" || env["kubernetes"] != "1.32.13" {
        return Err(format!(
            "4.19 run: OpenShift {} / Kubernetes {}",
            env["openshift"]["version"], env["kubernetes"]
        ));
    }
    let results = run.json["results"].as_array().cloned().unwrap_or_default();
    let passed: Vec<&Value> = results
        .iter()
        .filter(|r| r["verdict"]["status"] == "pass")
        .collect();
    let annotation = passed
        .iter()
        .filter(|r| {
            r["id"].as_str().is_some_and(|id| {
                ["annotation/", "story/", "openshift-annotation/"]
                    .iter()
                    .any(|t| id.starts_with(t))
            })
        })
        .count();
    let userns: Vec<String> = passed
        .iter()
        .flat_map(|r| {
            r["observation"]["pods"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| {
                    p["inside"]["uidMap"]
                        .as_array()
                        .is_some_and(|m| !m.is_empty() && m[0] != "0 0 4294967295")
                })
                .map(|p| format!("{}/{}", r["id"].as_str().unwrap_or("?"), p["name"]))
        })
        .collect();
    if annotation < 15 || userns.len() < 6 {
        return Err(format!(
            "4.19: {annotation} annotation/story scenarios passed (want 15), pods in a user namespace {userns:?} (want 6)\n{}",
            run.output
        ));
    }
    eprintln!(
        "real_openshift: 4.19: {annotation} annotation/story scenarios passed; {} pods in a user namespace: {userns:?}",
        userns.len()
    );
    Ok(())
}

/// The deliberately broken setups of `broken/` (each names the catalog entry
/// that must explain it in a `diagnoses/<id>.yaml` cite): every one of
/// `files` fails, and its result carries that diagnosis.
fn broken_diagnosed(kubeconfig: &Path, out: &Path, files: &[&str]) -> Result<String, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real_openshift/broken");
    let paths: Vec<PathBuf> = files.iter().map(|f| dir.join(f)).collect();
    let scenarios = userns_e2e::scenario::load::load_paths(&paths)
        .map_err(|e| format!("broken scenarios do not load: {e:?}"))?;
    let rel: Vec<String> = paths
        .iter()
        .map(|p| p.strip_prefix(repo()).unwrap_or(p).display().to_string())
        .collect();
    let rel: Vec<&str> = rel.iter().map(String::as_str).collect();
    let run = run_scenarios(kubeconfig, out, &rel)?;
    let results = run.json["results"].as_array().cloned().unwrap_or_default();
    let mut seen = Vec::new();
    for s in &scenarios {
        let want = s
            .spec
            .cites
            .iter()
            .find_map(|c| c.strip_prefix("diagnoses/")?.strip_suffix(".yaml"))
            .ok_or_else(|| format!("{}: no diagnoses/<id>.yaml cite", s.id))?;
        let r = results
            .iter()
            .find(|r| r["id"] == s.id.as_str())
            .ok_or_else(|| format!("{}: no result\n{}", s.id, run.output))?;
        let ids: Vec<&str> = r["diagnoses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["id"].as_str())
            .collect();
        // An error counts too: the harness gives up before the pods when
        // the account may not create them (binding-without-pod-create).
        let status = r["verdict"]["status"].as_str().unwrap_or("");
        if !matches!(status, "fail" | "error") || !ids.contains(&want) {
            return Err(format!(
                "{}: want a failure diagnosed {want}, got {} with {ids:?}\n{}",
                s.id, r["verdict"]["status"], run.output
            ));
        }
        if !run.output.contains("why: ") {
            return Err(format!(
                "{}: no why: line on the terminal\n{}",
                s.id, run.output
            ));
        }
        seen.push(format!("{} -> {want}", s.id));
    }
    Ok(format!("broken setups diagnosed: {}", seen.join(", ")))
}

/// `doctor` on MicroShift (as `test`): the OpenShift row names the version
/// and the SCCs, and the restricted-v3 row says what this version has.
fn doctor_reports_sccs(kubeconfig: &Path, version: &str, v3: &str) -> Result<String, String> {
    let o = Command::new(env!("CARGO_BIN_EXE_userns-e2e"))
        .args([
            "doctor",
            "--target",
            "kube",
            "--as",
            "test",
            "--json",
            "--kubeconfig",
        ])
        .arg(kubeconfig)
        .output()
        .map_err(|e| format!("userns-e2e doctor: {e}"))?;
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    // 0 ready, 1 not ready: both are answers; 3 (unusable target) is not.
    if !matches!(o.status.code(), Some(0) | Some(1)) {
        return Err(format!("doctor exited {:?}: {text}{err}", o.status.code()));
    }
    let j: Value =
        serde_json::from_str(&text).map_err(|e| format!("doctor --json: {e}: {text}"))?;
    let row = |name: &str| {
        j["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["check"] == name)
            .cloned()
    };
    let os = row("OpenShift").ok_or_else(|| format!("no OpenShift row: {text}"))?;
    let observed = os["observed"].as_str().unwrap_or("");
    if !observed.starts_with(version) || !observed.contains("restricted-v2") {
        return Err(format!(
            "OpenShift row {observed:?}, want {version} and the SCC list"
        ));
    }
    let v3row =
        row("OpenShift restricted-v3").ok_or_else(|| format!("no restricted-v3 row: {text}"))?;
    let v3seen = v3row["observed"].as_str().unwrap_or("");
    if !v3seen.contains(v3) {
        return Err(format!("restricted-v3 row {v3seen:?}, want {v3:?}"));
    }
    // Where restricted-v3 exists the probe pins it, as such pods must: with
    // a kubelet it runs (on the control plane it cannot: unknown).
    if let Some(probe) = row("probe host-users-false") {
        let status = probe["status"].as_str().unwrap_or("");
        if v3.contains("restricted-v2") && !matches!(status, "ok" | "unknown") {
            return Err(format!("the pinned hostUsers: false probe: {probe}"));
        }
    }
    let pod_security = row("Pod Security").ok_or_else(|| format!("no Pod Security row: {text}"))?;
    if pod_security["status"] == "unknown" {
        return Err(format!("Pod Security row: {pod_security}"));
    }
    Ok(format!(
        "doctor (exit {:?}): OpenShift {observed:?}; restricted-v3 {v3seen:?}",
        o.status.code()
    ))
}

/// `compare` over the 4.19 and 5.0 runs with their kubelets reports exactly
/// the differences the scenarios' `cases:` predict.
fn openshift_versions_compare() -> Result<String, String> {
    let files = [
        compare_dir().join("openshift-4.19.json"),
        compare_dir().join("openshift-5.0.json"),
    ];
    if let Some(missing) = files.iter().find(|f| !f.is_file()) {
        return Err(format!(
            "{} is missing: a kubelet phase failed",
            missing.display()
        ));
    }
    let runs: Vec<userns_e2e::report::results::RunResults> = files
        .iter()
        .map(|f| userns_e2e::report::json::read(f).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let scenarios = userns_e2e::scenario::load::load_paths(&[repo().join("scenarios")])
        .map_err(|e| format!("scenarios do not load: {e:?}"))?;
    let out = compare_dir().join("compare.json");
    let mut args: Vec<&std::ffi::OsStr> =
        vec!["compare".as_ref(), "--json".as_ref(), out.as_os_str()];
    args.extend(files.iter().map(|f| f.as_os_str()));
    let text = run_cli(&args)?;
    let c: Value = serde_json::from_str(&std::fs::read_to_string(&out).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let wrong = predicted::unpredicted(&c, &scenarios, &runs);
    if !wrong.is_empty() {
        // Keep the two runs for whoever reads the failure.
        let kept = cluster::state_dir().with_extension("compare-failed");
        let _ = std::fs::remove_dir_all(&kept);
        let _ = std::fs::rename(compare_dir(), &kept);
        return Err(format!(
            "4.19 vs 5.0 (runs kept in {}):\n{}\n{text}",
            kept.display(),
            wrong.join("\n")
        ));
    }
    let differing: Vec<&str> = c["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["differences"].as_array().is_some_and(|d| !d.is_empty()))
        .filter_map(|r| r["id"].as_str())
        .collect();
    Ok(format!(
        "4.19 vs 5.0: {} scenario(s) differ, each as its cases predict: {differing:?}",
        differing.len()
    ))
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
            let (kc, out3) = (cluster.kubeconfig(), out.clone());
            trials.push(Trial::test(
                "a_user_without_a_usable_scc_is_diagnosed",
                move || {
                    let s = broken_diagnosed(
                        &kc,
                        &out3,
                        &["no-usable-scc.yaml", "binding-without-pod-create.yaml"],
                    )?;
                    eprintln!("real_openshift: {s}");
                    Ok(())
                },
            ));
            let kc = cluster.kubeconfig();
            trials.push(Trial::test("doctor_reports_the_scc_facts", move || {
                let s = doctor_reports_sccs(&kc, "5.0", "tied with restricted-v2")?;
                eprintln!("real_openshift: control plane {s}");
                Ok(())
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
    // OpenShift 4.19: the annotation through a real kubelet, then 4.19 vs 5.0.
    match cluster::find_4_19() {
        None if std::env::var("CI").as_deref() == Ok("true") => left.push(
            "no MicroShift 4.19 tarball under $USERNS_E2E_SHARED/openshift-4.19; with CI=true this is a failure".into(),
        ),
        None => eprintln!(
            "real_openshift: skipped the 4.19 phase: no MicroShift tarball under $USERNS_E2E_SHARED/openshift-4.19"
        ),
        Some(ms419) => {
            match control_plane_4_19(&ms419) {
                Ok(s) => eprintln!("real_openshift: 4.19 control plane: {s}"),
                Err(e) => left.push(format!("the 4.19 control-plane phase failed: {e}")),
            }
            match kubelet_phase_4_19(&ms419) {
                Ok(s) => eprintln!("real_openshift: 4.19 with the kubelet on CRI-O: {s}"),
                Err(e) => left.push(format!("the 4.19 kubelet phase failed: {e}")),
            }
            match openshift_versions_compare() {
                Ok(s) => eprintln!("real_openshift: {s}"),
                Err(e) => left.push(format!("the 4.19-vs-5.0 comparison failed: {e}")),
            }
        }
    }
    let _ = std::fs::remove_dir_all(compare_dir());
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
