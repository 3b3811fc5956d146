//! The harness inside the cluster (issue 21), on MicroShift with its kubelet:
//! its image built from this build (`deploy/mkimage.sh`), loaded into the
//! node's CRI-O with skopeo, `deploy/`'s Job run as the shipped ServiceAccount
//! and ClusterRole; its verdicts must equal the outside run's. Then each rule
//! of the ClusterRole is removed in turn and the Job must name the permission
//! it lacks. Nothing may be left: Jobs, namespaces, role, binding, route.
//!
//! MicroShift here has no service proxy (`cniPlugin: none`), so the
//! `kubernetes` Service's address would not answer from a pod; a DNAT rule to
//! the API server's endpoint stands in for kube-proxy while the phase runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Pod, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule};
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use kube::Client;
use serde_json::Value;

#[path = "../support/yaml.rs"]
mod yaml;

const NS: &str = "userns-e2e";
const SA: &str = "system:serviceaccount:userns-e2e:userns-e2e";
const IMAGE: &str = "localhost/userns-e2e:latest";
const NFT_TABLE: &str = "userns_e2e_svc";
/// A quick scenario for the runs without a rule: a fallback rule's run goes
/// on, and must pass it.
const ONE_SCENARIO: &str = "openshift-scc/restricted-v2-uid-from-namespace";

fn deploy(file: &str) -> Result<Value, String> {
    let p = super::repo().join("deploy").join(file);
    let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(yaml::yaml(&text))
}

fn typed<T: serde::de::DeserializeOwned>(file: &str) -> Result<T, String> {
    serde_json::from_value(deploy(file)?).map_err(|e| format!("deploy/{file}: {e}"))
}

/// The whole phase; `outside` is the results JSON of the outside run of the
/// same build on this cluster (as `test`, without node evidence).
pub fn phase(kubeconfig: &Path, state: &Path, outside: &Value) -> Result<String, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let client = rt.block_on(async {
        let kc = kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| e.to_string())?;
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .map_err(|e| e.to_string())?;
        Client::try_from(config).map_err(|e| e.to_string())
    })?;
    load_image(state)?;
    let route = rt.block_on(ServiceRoute::add(&client))?;
    let result = rt.block_on(async {
        let rules = apply(&client).await?;
        let full = run_job(&client, "userns-e2e", None, Duration::from_secs(900)).await?;
        let same = same_verdicts(outside, &full)?;
        let mut named = Vec::new();
        for i in 0..rules.len() {
            named.push(without_rule(&client, &rules, i).await?);
        }
        Ok::<_, String>(format!(
            "in-cluster Job as the shipped ServiceAccount and role: {same}; each of {} rules removed named: {}",
            rules.len(),
            named.join(", ")
        ))
    });
    let left = rt.block_on(clean(&client));
    drop(route);
    let mut left = left?;
    if ServiceRoute::present() {
        left.push(format!("nft table {NFT_TABLE}"));
    }
    let out = result?;
    if !left.is_empty() {
        return Err(format!("in-cluster: left after the phase: {left:?}"));
    }
    Ok(out)
}

/// `deploy/mkimage.sh` with this build's binary, copied into the CRI-O of
/// MicroShift's mount namespace the way its `crio.sh` loads the test images.
fn load_image(state: &Path) -> Result<(), String> {
    let dir = state.with_extension("image");
    let made = Command::new("bash")
        .arg(super::repo().join("deploy/mkimage.sh"))
        .arg(&dir)
        .arg(env!("CARGO_BIN_EXE_userns-e2e"))
        .arg(IMAGE)
        .output()
        .map_err(|e| format!("mkimage.sh: {e}"))?;
    if !made.status.success() {
        return Err(format!(
            "mkimage.sh failed: {}",
            String::from_utf8_lossy(&made.stderr)
        ));
    }
    let layout = PathBuf::from(String::from_utf8_lossy(&made.stdout).trim());
    let crio = state.join("crio");
    let ns = std::fs::read_to_string(state.join("ns.pid")).map_err(|e| e.to_string())?;
    let store = format!(
        "containers-storage:[overlay@{}+{}]{IMAGE}",
        crio.join("root").display(),
        crio.join("runroot").display()
    );
    let copied = Command::new("nsenter")
        .args(["-t", ns.trim(), "-m", "env"])
        .arg(format!(
            "CONTAINERS_STORAGE_CONF={}",
            crio.join("storage.conf").display()
        ))
        .args(["skopeo", "--policy"])
        .arg(crio.join("policy.json"))
        .args(["copy", "--quiet"])
        .arg(format!("oci:{}", layout.display()))
        .arg(&store)
        .output()
        .map_err(|e| format!("skopeo: {e}"))?;
    let _ = std::fs::remove_dir_all(&dir);
    if !copied.status.success() {
        return Err(format!(
            "skopeo copy into the node's CRI-O failed: {}",
            String::from_utf8_lossy(&copied.stderr)
        ));
    }
    Ok(())
}

/// kube-proxy's one rule for the `kubernetes` Service, as an nft table that
/// is deleted on drop.
struct ServiceRoute;

impl ServiceRoute {
    async fn add(client: &Client) -> Result<ServiceRoute, String> {
        let svc = Api::<Service>::namespaced(client.clone(), "default")
            .get("kubernetes")
            .await
            .map_err(|e| format!("Service kubernetes: {e}"))?;
        let spec = svc.spec.unwrap_or_default();
        let ip = spec
            .cluster_ip
            .ok_or("Service kubernetes has no clusterIP")?;
        let port = spec
            .ports
            .and_then(|p| p.first().map(|p| p.port))
            .ok_or("Service kubernetes has no port")?;
        let ep = Api::<Endpoints>::namespaced(client.clone(), "default")
            .get("kubernetes")
            .await
            .map_err(|e| format!("Endpoints kubernetes: {e}"))?;
        let subset = ep
            .subsets
            .and_then(|s| s.into_iter().next())
            .ok_or("Endpoints kubernetes is empty")?;
        let to_ip = subset
            .addresses
            .and_then(|a| a.into_iter().next().map(|a| a.ip))
            .ok_or("Endpoints kubernetes has no address")?;
        let to_port = subset
            .ports
            .and_then(|p| p.into_iter().next().map(|p| p.port))
            .ok_or("Endpoints kubernetes has no port")?;
        let script = format!(
            "table ip {NFT_TABLE} {{\n chain pre {{\n  type nat hook prerouting priority dstnat;\n  \
             ip daddr {ip} tcp dport {port} dnat to {to_ip}:{to_port}\n }}\n}}\n"
        );
        let mut child = Command::new("nft")
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("nft (package nftables): {e}"))?;
        use std::io::Write;
        child
            .stdin
            .take()
            .ok_or("nft: no stdin")?
            .write_all(script.as_bytes())
            .map_err(|e| e.to_string())?;
        let status = child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("nft could not add the route:\n{script}"));
        }
        Ok(ServiceRoute)
    }

    fn present() -> bool {
        Command::new("nft")
            .args(["list", "table", "ip", NFT_TABLE])
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

impl Drop for ServiceRoute {
    fn drop(&mut self) {
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", NFT_TABLE])
            .status();
    }
}

/// Creates deploy/'s namespace, ServiceAccount, ClusterRole and binding as
/// shipped; returns the ClusterRole's rules.
async fn apply(client: &Client) -> Result<Vec<PolicyRule>, String> {
    create(&Api::<Namespace>::all(client.clone()), "namespace.yaml").await?;
    create(
        &Api::<ServiceAccount>::namespaced(client.clone(), NS),
        "serviceaccount.yaml",
    )
    .await?;
    let role = create(&Api::<ClusterRole>::all(client.clone()), "clusterrole.yaml").await?;
    create(
        &Api::<ClusterRoleBinding>::all(client.clone()),
        "clusterrolebinding.yaml",
    )
    .await?;
    let rules = role.rules.unwrap_or_default();
    // The binding must be in force before the first Job asks.
    wait_review(client, &rules[0], true).await?;
    Ok(rules)
}

/// deploy/job.yaml under `name`, its report as JSON on the log instead of
/// Markdown, and `only` (a scenario id) instead of the whole suite. Returns
/// whether it succeeded and its log; the Job and its pod are deleted.
async fn run_job(
    client: &Client,
    name: &str,
    only: Option<&str>,
    limit: Duration,
) -> Result<(bool, String), String> {
    let mut job = deploy("job.yaml")?;
    job["metadata"]["name"] = name.into();
    let args = &mut job["spec"]["template"]["spec"]["containers"][0]["args"];
    let mut new_args: Vec<Value> = Vec::new();
    for a in args.as_array().cloned().unwrap_or_default() {
        match a.as_str() {
            Some("--markdown") => new_args.push("--json".into()),
            Some(path) if path.starts_with("/usr/share/userns-e2e/scenarios") => {
                new_args.push(a.clone());
                if let Some(id) = only {
                    new_args.extend(["--exact".into(), id.into()]);
                }
            }
            _ => new_args.push(a.clone()),
        }
    }
    *args = Value::Array(new_args);
    let job: Job = serde_json::from_value(job).map_err(|e| format!("deploy/job.yaml: {e}"))?;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    jobs.create(&PostParams::default(), &job)
        .await
        .map_err(|e| format!("Job {name}: {e}"))?;
    let start = Instant::now();
    let succeeded = loop {
        let j = jobs
            .get(name)
            .await
            .map_err(|e| format!("Job {name}: {e}"))?;
        let s = j.status.unwrap_or_default();
        if s.succeeded.unwrap_or(0) > 0 {
            break true;
        }
        if s.failed.unwrap_or(0) > 0 {
            break false;
        }
        if start.elapsed() > limit {
            return Err(format!("Job {name} did not finish in {}s", limit.as_secs()));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let selector = format!("job-name={name}");
    let listed = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| e.to_string())?;
    let pod = listed
        .items
        .first()
        .and_then(|p| p.metadata.name.clone())
        .ok_or_else(|| format!("Job {name} has no pod"))?;
    let log = pods
        .logs(&pod, &LogParams::default())
        .await
        .map_err(|e| format!("log of {pod}: {e}"))?;
    jobs.delete(name, &DeleteParams::background())
        .await
        .map_err(|e| format!("deleting Job {name}: {e}"))?;
    gone(&pods, &selector).await?;
    Ok((succeeded, log))
}

async fn gone(pods: &Api<Pod>, selector: &str) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        let l = pods
            .list(&ListParams::default().labels(selector))
            .await
            .map_err(|e| e.to_string())?;
        if l.items.is_empty() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!("pods {selector} still there after 60s"))
}

/// The results JSON a Job printed (origin's rule: first `{` at a line start
/// to the last `}`).
fn results_of(log: &str) -> Option<Value> {
    let start = log
        .find("\n{")
        .map(|i| i + 1)
        .or_else(|| log.starts_with('{').then_some(0))?;
    let end = log.rfind('}')?;
    serde_json::from_str(&log[start..=end]).ok()
}

fn verdicts(results: &Value) -> std::collections::BTreeMap<String, String> {
    results["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or("").to_string(),
                r["verdict"]["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn same_verdicts(outside: &Value, (ok, log): &(bool, String)) -> Result<String, String> {
    let inside = results_of(log).ok_or_else(|| format!("the Job printed no results:\n{log}"))?;
    let (a, b) = (verdicts(outside), verdicts(&inside));
    let differ: Vec<String> = a
        .keys()
        .chain(b.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|id| a.get(*id) != b.get(*id))
        .map(|id| format!("{id}: outside {:?}, inside {:?}", a.get(id), b.get(id)))
        .collect();
    if !differ.is_empty() || !ok {
        return Err(format!(
            "in-cluster verdicts differ from the outside run's (Job succeeded: {ok}): {differ:#?}\n{log}"
        ));
    }
    let passed = b.values().filter(|s| *s == "pass").count();
    Ok(format!(
        "{} scenarios, {passed} passed, each verdict as outside",
        b.len()
    ))
}

/// What the harness must say when `rule` is missing: `may not <verb>
/// <resource>` (the first of each).
fn named(rule: &PolicyRule) -> String {
    let verb = rule.verbs.first().map(String::as_str).unwrap_or("");
    match (&rule.resources, &rule.non_resource_urls) {
        (Some(r), _) if !r.is_empty() => format!("may not {verb} {}", r[0]),
        (_, Some(u)) if !u.is_empty() => format!("may not {verb} {}", u[0]),
        _ => format!("may not {verb}"),
    }
}

/// Replaces the ClusterRole with every rule but `i`, waits until the
/// authorizer denies it, runs the Job on one scenario: its log must name the
/// missing permission and no scenario may fail or error for it.
async fn without_rule(client: &Client, rules: &[PolicyRule], i: usize) -> Result<String, String> {
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let mut role = roles.get(NS).await.map_err(|e| e.to_string())?;
    let mut kept = rules.to_vec();
    let removed = kept.remove(i);
    role.rules = Some(kept);
    roles
        .replace(NS, &PostParams::default(), &role)
        .await
        .map_err(|e| format!("ClusterRole without rule {i}: {e}"))?;
    wait_review(client, &removed, false).await?;
    let (_, log) = run_job(
        client,
        &format!("userns-e2e-without-{i}"),
        Some(ONE_SCENARIO),
        Duration::from_secs(300),
    )
    .await?;
    let want = named(&removed);
    if !log.contains(&want) {
        return Err(format!(
            "without rule {i} ({removed:?}) the Job's log should say `{want}`:\n{log}"
        ));
    }
    if let Some(results) = results_of(&log) {
        let wrong: Vec<String> = verdicts(&results)
            .into_iter()
            .filter(|(_, s)| s == "fail" || s == "error")
            .map(|(id, s)| format!("{id}: {s}"))
            .collect();
        if !wrong.is_empty() {
            return Err(format!(
                "without rule {i} the harness named it and still judged scenarios: {wrong:?}\n{log}"
            ));
        }
    }
    let restored = roles.get(NS).await.map_err(|e| e.to_string())?;
    let role = ClusterRole {
        rules: Some(rules.to_vec()),
        ..restored
    };
    roles
        .replace(NS, &PostParams::default(), &role)
        .await
        .map_err(|e| format!("ClusterRole restored: {e}"))?;
    wait_review(client, &removed, true).await?;
    Ok(want)
}

/// Until the authorizer answers `allowed` for the ServiceAccount and the
/// rule's first verb, resource and name (RBAC's cache follows the API).
async fn wait_review(client: &Client, rule: &PolicyRule, allowed: bool) -> Result<(), String> {
    let verb = rule.verbs.first().cloned();
    let spec = match &rule.non_resource_urls {
        Some(urls) if !urls.is_empty() => SubjectAccessReviewSpec {
            non_resource_attributes: Some(NonResourceAttributes {
                path: urls.first().cloned(),
                verb,
            }),
            ..Default::default()
        },
        _ => {
            let (resource, subresource) =
                match rule.resources.as_ref().and_then(|r| r.first()).map(|r| {
                    r.split_once('/')
                        .map(|(a, b)| (a, Some(b)))
                        .unwrap_or((r, None))
                }) {
                    Some((r, s)) => (Some(r.to_string()), s.map(str::to_string)),
                    None => (None, None),
                };
            SubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    group: rule.api_groups.as_ref().and_then(|g| g.first().cloned()),
                    resource,
                    subresource,
                    name: rule
                        .resource_names
                        .as_ref()
                        .and_then(|n| n.first().cloned()),
                    // The MicroShift ConfigMap lives there; namespaced rules
                    // of a ClusterRole hold in every namespace.
                    namespace: Some("kube-public".into()),
                    verb,
                    ..Default::default()
                }),
                ..Default::default()
            }
        }
    };
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(SA.into()),
            groups: Some(vec![
                "system:serviceaccounts".into(),
                "system:serviceaccounts:userns-e2e".into(),
                "system:authenticated".into(),
            ]),
            ..spec
        },
        ..Default::default()
    };
    let api: Api<SubjectAccessReview> = Api::all(client.clone());
    let start = Instant::now();
    loop {
        let r = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| format!("SubjectAccessReview: {e}"))?;
        if r.status.is_some_and(|s| s.allowed == allowed) {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(30) {
            return Err(format!(
                "the authorizer did not answer allowed={allowed} for {rule:?} within 30s"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Deletes what `apply` and the Jobs made; returns what is still there.
async fn clean(client: &Client) -> Result<Vec<String>, String> {
    let dp = DeleteParams::background();
    let _ = Api::<ClusterRoleBinding>::all(client.clone())
        .delete(NS, &dp)
        .await;
    let _ = Api::<ClusterRole>::all(client.clone())
        .delete(NS, &dp)
        .await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let _ = namespaces.delete(NS, &dp).await;
    let start = Instant::now();
    let mut left = Vec::new();
    loop {
        left.clear();
        if exists(&namespaces).await? {
            left.push(format!("namespace {NS}"));
        }
        let managed = namespaces
            .list(&ListParams::default().labels("userns-e2e.io/managed=true"))
            .await
            .map_err(|e| e.to_string())?;
        left.extend(
            managed
                .items
                .iter()
                .filter_map(|n| n.metadata.name.clone())
                .map(|n| format!("namespace {n}")),
        );
        if exists(&Api::<ClusterRole>::all(client.clone())).await? {
            left.push(format!("clusterrole {NS}"));
        }
        if exists(&Api::<ClusterRoleBinding>::all(client.clone())).await? {
            left.push(format!("clusterrolebinding {NS}"));
        }
        if left.is_empty() || start.elapsed() > Duration::from_secs(120) {
            return Ok(left);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Whether the object named like deploy/'s (`userns-e2e`) is still there.
async fn exists<K>(api: &Api<K>) -> Result<bool, String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    Ok(api.get_opt(NS).await.map_err(|e| e.to_string())?.is_some())
}

/// Creates deploy/`file` as it is shipped.
async fn create<K>(api: &Api<K>, file: &str) -> Result<K, String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let object: K = typed(file)?;
    api.create(&PostParams::default(), &object)
        .await
        .map_err(|e| format!("deploy/{file}: {e}"))
}
