//! The kube target against kube-rs's mock service (tower-test) serving
//! realistic API objects. Each test asserts the exact observation.
//!
//! The exec websocket cannot be served by the mock, so exec is the one
//! injected piece (`PodExec`); everything else is real kube-rs traffic.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use http::{Method, Request, Response};
use kube::client::{Body, ClientBuilder};
use serde_json::{json, Value};
use userns_e2e::observation::{
    Admission, Event, ExecResult, Outcome, PodObservation, Probe, UsernsAsk,
};
use userns_e2e::parse::idmap;
use userns_e2e::plan::{ExecPlan, KubeletUserns, ProbePlan};
use userns_e2e::scenario::{load, Scenario};
use userns_e2e::targets::kube::exec::PodExec;
use userns_e2e::targets::kube::identity;
use userns_e2e::targets::kube::{ClientFactory, KubeOptions, KubeTarget};
use userns_e2e::targets::{Target, TargetError};

const NS: &str = "userns-e2e-x7k2p";

/// One recorded request: method, path and query, impersonation headers, body.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    uri: String,
    user: Option<String>,
    groups: Vec<String>,
    body: Value,
}

/// A route answers requests whose method matches and whose path+query
/// contains `pattern`, with its responses in turn (the last one repeats).
struct Route {
    method: Method,
    pattern: String,
    responses: VecDeque<(u16, Value)>,
    /// Watch bodies: JSON lines sent after a short pause, then the stream ends.
    watch: bool,
}

#[derive(Default)]
struct Fake {
    routes: Vec<Route>,
}

impl Fake {
    fn on(mut self, method: Method, pattern: &str, responses: Vec<(u16, Value)>) -> Self {
        self.routes.push(Route {
            method,
            pattern: pattern.into(),
            responses: responses.into(),
            watch: false,
        });
        self
    }

    fn watch(mut self, pattern: &str, events: Vec<Value>) -> Self {
        self.routes.push(Route {
            method: Method::GET,
            pattern: pattern.into(),
            responses: events.into_iter().map(|e| (200, e)).collect(),
            watch: true,
        });
        self
    }

    /// Starts serving; returns a client factory and the request log.
    fn start(mut self) -> (ClientFactory, Arc<Mutex<Vec<Seen>>>) {
        let (svc, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        tokio::spawn(async move {
            while let Some((req, send)) = handle.next_request().await {
                let (parts, body) = req.into_parts();
                let bytes = body.collect_bytes().await.unwrap_or_default();
                let uri = parts.uri.to_string();
                let header = |n: &str| {
                    parts
                        .headers
                        .get_all(n)
                        .iter()
                        .filter_map(|v| v.to_str().ok().map(str::to_string))
                        .collect::<Vec<_>>()
                };
                log.lock().unwrap().push(Seen {
                    method: parts.method.clone(),
                    uri: uri.clone(),
                    user: header("Impersonate-User").first().cloned(),
                    groups: header("Impersonate-Group"),
                    body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                });
                let route = self.routes.iter_mut().find(|r| {
                    r.method == parts.method
                        && uri.contains(&r.pattern)
                        && (r.watch == uri.contains("watch=true"))
                });
                let Some(route) = route else {
                    let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": format!("no fake route for {} {uri}", parts.method), "reason": "NotFound", "code": 404});
                    send.send_response(
                        Response::builder()
                            .status(404)
                            .body(Body::from(status.to_string().into_bytes()))
                            .unwrap(),
                    );
                    continue;
                };
                let (code, value) = if route.responses.len() > 1 {
                    route.responses.pop_front().unwrap()
                } else {
                    route.responses.front().cloned().unwrap()
                };
                if route.watch {
                    // A watch answers with events and ends after a pause, like a short server timeout.
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        let text = if value.is_null() {
                            String::new()
                        } else {
                            format!("{value}\n")
                        };
                        send.send_response(
                            Response::builder()
                                .status(code)
                                .body(Body::from(text.into_bytes()))
                                .unwrap(),
                        );
                    });
                } else if let Value::String(text) = value {
                    // A text body (a Prometheus exposition), sent as it is.
                    send.send_response(
                        Response::builder()
                            .status(code)
                            .header("content-type", "text/plain; version=0.0.4")
                            .body(Body::from(text.into_bytes()))
                            .unwrap(),
                    );
                } else {
                    send.send_response(
                        Response::builder()
                            .status(code)
                            .header("content-type", "application/json")
                            .body(Body::from(value.to_string().into_bytes()))
                            .unwrap(),
                    );
                }
            }
        });
        let factory: ClientFactory = Arc::new(move |id| {
            Ok(ClientBuilder::new(svc.clone(), "default")
                .with_layer(&identity::impersonation(id))
                .build())
        });
        (factory, seen)
    }
}

/// Canned exec output by command.
struct FakeExec(BTreeMap<String, String>);

#[async_trait]
impl PodExec for FakeExec {
    async fn exec(
        &self,
        _: &kube::Client,
        _: &str,
        _: &str,
        _: &str,
        command: &[String],
    ) -> Result<ExecResult, TargetError> {
        let key = command.join(" ");
        match self.0.get(&key) {
            Some(out) => Ok(ExecResult {
                command: command.to_vec(),
                exit_code: 0,
                stdout: out.clone(),
                stderr: String::new(),
            }),
            None => Err(TargetError::scenario(format!("no canned output for {key}"))),
        }
    }
}

fn maps_exec(map: &str) -> FakeExec {
    FakeExec(BTreeMap::from([
        ("cat /proc/self/uid_map".to_string(), format!("{map}\n")),
        ("cat /proc/self/gid_map".to_string(), format!("{map}\n")),
        (
            "id".to_string(),
            "uid=0(root) gid=0(root) groups=0(root)\n".to_string(),
        ),
    ]))
}

fn namespace(annotations: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS, "uid": "6f3c", "resourceVersion": "100", "labels": {"userns-e2e.io/managed": "true", "kubernetes.io/metadata.name": NS}, "annotations": annotations}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
}

fn pod(name: &str, annotations: Value, status: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "uid": "0b6e2c1a-7a51-4c47-9f3e-1d2f3a4b5c6d", "resourceVersion": "2041", "annotations": annotations},
        "spec": {"hostUsers": false, "containers": [{"name": "c", "image": "docker.io/library/busybox:1.36", "command": ["sleep", "3600"]}], "nodeName": "crio-1.33-worker"},
        "status": status
    })
}

fn running_status() -> Value {
    json!({"phase": "Running", "podIP": "10.244.1.7", "containerStatuses": [{"name": "c", "image": "docker.io/library/busybox:1.36", "imageID": "docker.io/library/busybox@sha256:ab12", "containerID": "cri-o://4f1e", "ready": true, "restartCount": 0, "started": true, "state": {"running": {"startedAt": "2026-11-22T10:00:03Z"}}}]})
}

fn pending_status() -> Value {
    json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "message": "containers with unready status: [c]"}], "containerStatuses": [{"name": "c", "image": "docker.io/library/busybox:1.36", "imageID": "", "ready": false, "restartCount": 0, "started": false, "state": {"waiting": {"reason": "ContainerCreating"}}}]})
}

fn event_list(items: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "EventList", "metadata": {"resourceVersion": "2050"}, "items": items})
}

fn event(reason: &str, kind: &str, message: &str) -> Value {
    json!({"metadata": {"name": format!("userns.{reason}"), "namespace": NS}, "involvedObject": {"kind": "Pod", "name": "userns", "namespace": NS}, "reason": reason, "type": kind, "message": message, "source": {"component": "kubelet"}})
}

fn facts_routes(f: Fake, openshift: bool) -> Fake {
    let groups = if openshift {
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [{"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}]}, {"name": "security.openshift.io", "versions": [{"groupVersion": "security.openshift.io/v1", "version": "v1"}]}, {"name": "config.openshift.io", "versions": [{"groupVersion": "config.openshift.io/v1", "version": "v1"}]}]})
    } else {
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [{"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}]}]})
    };
    // The ClusterVersion route comes first: its path also contains "/version".
    f.on(Method::GET, "/apis/security.openshift.io/v1/securitycontextconstraints", vec![(200, json!({"apiVersion": "security.openshift.io/v1", "kind": "SecurityContextConstraintsList", "metadata": {}, "items": [{"apiVersion": "security.openshift.io/v1", "kind": "SecurityContextConstraints", "metadata": {"name": "restricted-v3"}, "priority": null, "userNamespaceLevel": "RequirePodLevel"}]}))])
        .on(Method::GET, "/apis/config.openshift.io/v1/clusterversions/version", vec![(200, json!({"apiVersion": "config.openshift.io/v1", "kind": "ClusterVersion", "metadata": {"name": "version"}, "spec": {"clusterID": "c"}, "status": {"desired": {"version": "4.20.3", "image": "quay.io/openshift-release-dev/ocp-release@sha256:1"}}}))])
        .on(Method::GET, "/version", vec![(200, json!({"major": "1", "minor": "33", "gitVersion": "v1.33.4", "gitCommit": "abc", "gitTreeState": "clean", "buildDate": "2026-08-12T00:00:00Z", "goVersion": "go1.24.5", "compiler": "gc", "platform": "linux/amd64"}))])
        .on(Method::GET, "/api/v1/nodes", vec![(200, json!({"apiVersion": "v1", "kind": "NodeList", "metadata": {}, "items": [{"metadata": {"name": "crio-1.33-worker"}, "status": {"nodeInfo": {"machineID": "m", "systemUUID": "s", "bootID": "b", "kernelVersion": "6.8.0-1017-azure", "osImage": "Debian GNU/Linux 12", "containerRuntimeVersion": "cri-o://1.33.2", "kubeletVersion": "v1.33.4", "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"}, "runtimeHandlers": [{"name": "", "features": {"recursiveReadOnlyMounts": true, "userNamespaces": true}}, {"name": "crun", "features": {"recursiveReadOnlyMounts": true, "userNamespaces": true}}]}}]}))])
        .on(Method::GET, "/apis", vec![(200, groups)])
        // The API server's gates (the kubelet's node proxy route is absent: 404, as a
        // server refusing the node's address answers with an error too).
        .on(Method::GET, "/metrics", vec![(200, Value::String(GATE_METRICS_ON.into()))])
}

const GATE_METRICS_ON: &str = "# TYPE kubernetes_feature_enabled gauge\nkubernetes_feature_enabled{name=\"UserNamespacesSupport\",stage=\"BETA\"} 1\n";

/// The gate is read from the cluster, the kubelet's metrics first (through
/// the node proxy), then the API server's; the facts say where it came from
/// and it decides `sendsNodeUsernsMode`, whatever the version's default.
#[tokio::test]
async fn feature_gates_come_from_the_cluster_not_the_version() {
    let off = "kubernetes_feature_enabled{name=\"UserNamespacesSupport\",stage=\"BETA\"} 0\n";
    // Kubernetes 1.33 (default on) with the kubelet's gate turned off.
    let fake = facts_routes(
        Fake::default().on(
            Method::GET,
            "/api/v1/nodes/crio-1.33-worker/proxy/metrics",
            vec![(200, Value::String(off.into()))],
        ),
        false,
    );
    let (clients, seen) = fake.start();
    let target = KubeTarget::new(clients, Arc::new(maps_exec("")), KubeOptions::default()).unwrap();
    let facts = target.facts().await.unwrap();
    assert_eq!(
        facts.feature_gates.get("UserNamespacesSupport"),
        Some(&false)
    );
    assert_eq!(facts.sends_node_userns_mode, Some(false));
    assert_eq!(
        facts.gate_sources["UserNamespacesSupport"],
        "the kubelet's metrics (node proxy, node crio-1.33-worker)"
    );
    assert!(!facts.host_view, "no --node-evidence, no host view");
    assert!(!seen.lock().unwrap().iter().any(|s| s.uri == "/metrics"));

    // The node proxy refused: the API server's metrics, and the refusal named.
    let fake = facts_routes(Fake::default(), false);
    let (clients, _) = fake.start();
    let target = KubeTarget::new(clients, Arc::new(maps_exec("")), KubeOptions::default()).unwrap();
    let facts = target.facts().await.unwrap();
    assert_eq!(
        facts.feature_gates.get("UserNamespacesSupport"),
        Some(&true)
    );
    let source = &facts.gate_sources["UserNamespacesSupport"];
    assert!(
        source.starts_with("the API server's metrics; not the kubelet's metrics (node proxy, node crio-1.33-worker)"),
        "{source}"
    );

    // The API server answers a dry run without hostUsers: its gate is off,
    // and that wins over its own (start-time) metric.
    let dropped = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "userns-e2e-gate-probe-x", "namespace": "default"}, "spec": {"containers": [{"name": "c", "image": "gate-probe"}]}});
    let fake = facts_routes(
        Fake::default().on(
            Method::POST,
            "/api/v1/namespaces/default/pods",
            vec![(201, dropped)],
        ),
        false,
    );
    let (clients, seen) = fake.start();
    let target = KubeTarget::new(clients, Arc::new(maps_exec("")), KubeOptions::default()).unwrap();
    let facts = target.facts().await.unwrap();
    assert_eq!(facts.sends_node_userns_mode, Some(false));
    assert!(facts.gate_sources["UserNamespacesSupport"].starts_with("a server-side dry run"));
    let probe = seen
        .lock()
        .unwrap()
        .iter()
        .find(|s| s.method == Method::POST)
        .map(|s| s.body.clone())
        .unwrap();
    assert_eq!(probe["spec"]["hostUsers"], json!(false));
    assert!(seen
        .lock()
        .unwrap()
        .iter()
        .any(|s| s.method == Method::POST && s.uri.contains("dryRun=All")));
}

fn scenario(extra: &str, pod_spec: &str) -> Scenario {
    let text = format!(
        "description: d\ncites: [FACTS.md#story-1]\n{extra}pods:\n  - pod:\n      apiVersion: v1\n      kind: Pod\n      metadata: {{name: userns}}\n      spec:\n        hostUsers: false\n{pod_spec}        containers: [{{name: c, image: \"${{image.busybox}}\", command: [sleep, \"3600\"]}}]\n"
    );
    let spec = load::load_str(Path::new("s.yaml"), &text).unwrap_or_else(|e| panic!("{e:?}"));
    Scenario {
        id: "kube/case".into(),
        file: "s.yaml".into(),
        topic: "kube".into(),
        spec,
    }
}

async fn execute(
    fake: Fake,
    exec: FakeExec,
    s: &Scenario,
    timeout: Duration,
    as_user: Option<&str>,
) -> (
    Result<userns_e2e::observation::Observation, String>,
    Vec<Seen>,
    userns_e2e::facts::Facts,
) {
    let (clients, seen) = fake.start();
    let options = KubeOptions {
        server: "https://api.crio-1.33:6443".into(),
        as_user: as_user.map(str::to_string),
        ..KubeOptions::default()
    };
    let target = KubeTarget::new(clients, Arc::new(exec), options).unwrap();
    let facts = target.facts().await.unwrap();
    let plan = ExecPlan {
        templates: target.templates(&facts),
        probes: vec![ProbePlan::default()],
        timeout,
        run_id: "run1".into(),
        budget: timeout + Duration::from_secs(30),
        kubelet: KubeletUserns::GateOn,
    };
    let r = target
        .execute(s, &plan)
        .await
        .into_result()
        .map_err(|e| e.chain());
    let log = seen.lock().unwrap().clone();
    (r, log, facts)
}

fn base(f: Fake) -> Fake {
    facts_routes(f, false)
        .on(
            Method::POST,
            "/api/v1/namespaces?",
            vec![(201, namespace(json!({})))],
        )
        .on(
            Method::DELETE,
            &format!("/api/v1/namespaces/{NS}"),
            vec![(200, namespace(json!({})))],
        )
}

/// The routes of one pod `userns`: created Pending, then read once with each
/// of `statuses`; its events listed once with each of `events`.
fn pod_routes(f: Fake, statuses: Vec<Value>, events: Vec<Value>) -> Fake {
    f.on(
        Method::POST,
        &format!("/api/v1/namespaces/{NS}/pods?"),
        vec![(201, pod("userns", json!({}), json!({"phase": "Pending"})))],
    )
    .on(
        Method::GET,
        &format!("/api/v1/namespaces/{NS}/pods/userns"),
        statuses
            .into_iter()
            .map(|st| (200, pod("userns", json!({}), st)))
            .collect(),
    )
    .on(
        Method::GET,
        &format!("/api/v1/namespaces/{NS}/events?"),
        events.into_iter().map(|l| (200, event_list(l))).collect(),
    )
}

#[tokio::test]
async fn admitted_pod_runs_and_exec_reads_the_maps() {
    let fake = pod_routes(
        base(Fake::default()),
        vec![pending_status(), running_status()],
        vec![json!([event(
            "Scheduled",
            "Normal",
            "Successfully assigned userns-e2e-x7k2p/userns to crio-1.33-worker"
        )])],
    )
    .watch(
        &format!("/api/v1/namespaces/{NS}/pods?"),
        vec![json!({"type": "MODIFIED", "object": pod("userns", json!({}), running_status())})],
    )
    .watch(
        &format!("/api/v1/namespaces/{NS}/events?"),
        vec![Value::Null],
    );
    let (r, seen, facts) = execute(
        fake,
        maps_exec("         0     131072      65536"),
        &scenario("", ""),
        Duration::from_secs(10),
        None,
    )
    .await;
    let o = r.unwrap();
    let map = idmap::parse("0 131072 65536").unwrap();
    assert_eq!(
        o.pods,
        vec![PodObservation {
            name: "userns".into(),
            id: Some("0b6e2c1a-7a51-4c47-9f3e-1d2f3a4b5c6d".into()),
            admission: Admission::Admitted,
            scc: None,
            outcome: Outcome::Running,
            events: vec![Event {
                kind: "Normal".into(),
                reason: "Scheduled".into(),
                message: "Successfully assigned userns-e2e-x7k2p/userns to crio-1.33-worker".into()
            }],
            inside: Probe {
                container: Some("c".into()),
                uid_map: Some(map.clone()),
                gid_map: Some(map),
                id: Some("uid=0(root) gid=0(root) groups=0(root)".into()),
                ..Probe::default()
            },
            host: None,
            logs: None,
            duration_ms: o.pods[0].duration_ms,
            phases_ms: o.pods[0].phases_ms.clone(),
            asked: Some(UsernsAsk {
                userns_annotation: None,
                host_users: Some(false),
            }),
        }]
    );
    assert_eq!(facts.runtime.as_ref().unwrap().reported_version, "1.33.2");
    assert!(facts.runtime.as_ref().unwrap().handlers[""].user_namespaces);
    assert!(facts.openshift.is_none());
    assert_eq!(
        facts.sends_node_userns_mode,
        Some(true),
        "UserNamespacesSupport is on by default from 1.33"
    );
    let created = seen
        .iter()
        .find(|s| s.method == Method::POST && s.uri.contains("/pods") && !s.uri.contains("dryRun"))
        .unwrap();
    assert_eq!(
        created.body["spec"]["containers"][0]["image"],
        "docker.io/library/busybox:1.36"
    );
    assert!(
        seen.iter().any(|s| s.method == Method::DELETE
            && s.uri.starts_with(&format!("/api/v1/namespaces/{NS}"))),
        "namespace deleted"
    );
    let ns_post = seen
        .iter()
        .find(|s| s.method == Method::POST && s.uri.starts_with("/api/v1/namespaces?"))
        .unwrap();
    assert_eq!(
        ns_post.body["metadata"]["labels"]["userns-e2e.io/managed"],
        "true"
    );
    assert_eq!(ns_post.body["metadata"]["generateName"], "userns-e2e-");
}

#[tokio::test]
async fn scc_refusal_is_the_admission_observation() {
    let message = "pods \"userns\" is forbidden: unable to validate against any security context constraint: [provider \"anyuid\": Forbidden: not usable by user or serviceaccount, spec.containers[0].securityContext.runAsUser: Invalid value: 0: must be in the ranges: [1000610000, 1000619999], provider \"restricted-v2\": Forbidden: not usable by user or serviceaccount]";
    let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": "Forbidden", "details": {"name": "userns", "kind": "pods"}, "code": 403});
    let fake = base(Fake::default()).on(
        Method::POST,
        &format!("/api/v1/namespaces/{NS}/pods?"),
        vec![(403, status)],
    );
    let (r, seen, _) = execute(
        fake,
        maps_exec(""),
        &scenario("", "        securityContext: {runAsUser: 0}\n"),
        Duration::from_secs(5),
        None,
    )
    .await;
    let o = r.unwrap();
    assert_eq!(
        o.pods[0].admission,
        Admission::Refused {
            code: Some(403),
            message: message.into()
        }
    );
    assert_eq!(o.pods[0].outcome, Outcome::NotCreated);
    assert_eq!(
        seen.iter()
            .filter(|s| s.method == Method::POST
                && s.uri.contains("/pods")
                && !s.uri.contains("dryRun"))
            .count(),
        1,
        "a 403 is not retried"
    );
}

#[tokio::test]
async fn sandbox_failure_visible_only_as_an_event() {
    let msg = "Failed to create pod sandbox: rpc error: code = Unknown desc = error creating pod sandbox with name \"k8s_userns_userns-e2e-x7k2p_0b6e2c1a_0\": could not find enough available IDs";
    let fake = pod_routes(
        base(Fake::default()),
        vec![pending_status()],
        vec![
            json!([event("Scheduled", "Normal", "assigned")]),
            json!([
                event("Scheduled", "Normal", "assigned"),
                event("FailedCreatePodSandBox", "Warning", msg)
            ]),
        ],
    )
    .watch(&format!("/api/v1/namespaces/{NS}/pods?"), vec![Value::Null])
    .watch(
        &format!("/api/v1/namespaces/{NS}/events?"),
        vec![json!({"type": "ADDED", "object": event("FailedCreatePodSandBox", "Warning", msg)})],
    );
    let (r, _, _) = execute(
        fake,
        maps_exec(""),
        &scenario("", ""),
        Duration::from_secs(10),
        None,
    )
    .await;
    let o = r.unwrap();
    assert_eq!(
        o.pods[0].outcome,
        Outcome::SandboxFailed {
            reason: "FailedCreatePodSandBox".into(),
            message: msg.into()
        }
    );
    assert_eq!(
        o.pods[0].inside,
        Probe::default(),
        "nothing is exec'd in a pod without a sandbox"
    );
}

#[tokio::test]
async fn create_container_error_waiting_state() {
    let msg = "setup user: cannot set uid to unmapped user in user namespace";
    let waiting = json!({"phase": "Pending", "containerStatuses": [{"name": "c", "image": "docker.io/library/busybox:1.36", "imageID": "", "ready": false, "restartCount": 0, "started": false, "state": {"waiting": {"reason": "CreateContainerError", "message": msg}}}]});
    let fake = base(Fake::default())
        .on(
            Method::POST,
            &format!("/api/v1/namespaces/{NS}/pods?"),
            vec![(
                201,
                pod(
                    "userns",
                    json!({"openshift.io/scc": "restricted-v2"}),
                    json!({"phase": "Pending"}),
                ),
            )],
        )
        .on(
            Method::GET,
            &format!("/api/v1/namespaces/{NS}/pods/userns"),
            vec![(
                200,
                pod(
                    "userns",
                    json!({"openshift.io/scc": "restricted-v2"}),
                    waiting,
                ),
            )],
        )
        .on(
            Method::GET,
            &format!("/api/v1/namespaces/{NS}/events?"),
            vec![(200, event_list(json!([])))],
        );
    let (r, _, _) = execute(
        fake,
        maps_exec(""),
        &scenario("", ""),
        Duration::from_secs(5),
        None,
    )
    .await;
    let o = r.unwrap();
    assert_eq!(
        o.pods[0].outcome,
        Outcome::ContainerWaiting {
            container: "c".into(),
            reason: "CreateContainerError".into(),
            message: msg.into()
        }
    );
    assert_eq!(o.pods[0].scc.as_deref(), Some("restricted-v2"));
}

#[tokio::test]
async fn impersonation_headers_are_sent_for_the_scenario_account() {
    let fake = base(Fake::default())
        .on(Method::POST, &format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/rolebindings"), vec![(201, json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "userns-e2e-edit", "namespace": NS}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"}, "subjects": [{"kind": "User", "name": "test", "apiGroup": "rbac.authorization.k8s.io"}]}))])
        .on(Method::POST, &format!("/api/v1/namespaces/{NS}/pods?"), vec![(403, json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "forbidden", "reason": "Forbidden", "code": 403}))]);
    let (r, seen, _) = execute(
        fake,
        maps_exec(""),
        &scenario("as: {user: {name: test, role: edit}}\n", ""),
        Duration::from_secs(5),
        None,
    )
    .await;
    r.unwrap();
    let rb = seen
        .iter()
        .find(|s| s.uri.contains("rolebindings"))
        .unwrap();
    assert_eq!(rb.user, None, "the harness grants the role as itself");
    assert_eq!(rb.body["subjects"][0]["name"], "test");
    let create = seen
        .iter()
        .find(|s| s.method == Method::POST && s.uri.contains("/pods") && !s.uri.contains("dryRun"))
        .unwrap();
    assert_eq!(create.user.as_deref(), Some("test"));
    assert_eq!(
        create.groups,
        vec!["system:authenticated", "system:authenticated:oauth"]
    );
}

#[tokio::test]
async fn timeout_gives_pending_and_deletes_the_namespace() {
    let fake = pod_routes(
        base(Fake::default()),
        vec![pending_status()],
        vec![json!([])],
    )
    .watch(&format!("/api/v1/namespaces/{NS}/pods?"), vec![Value::Null])
    .watch(
        &format!("/api/v1/namespaces/{NS}/events?"),
        vec![Value::Null],
    );
    let (r, seen, _) = execute(
        fake,
        maps_exec(""),
        &scenario("", ""),
        Duration::from_millis(600),
        None,
    )
    .await;
    let o = r.unwrap();
    assert_eq!(
        o.pods[0].outcome,
        Outcome::Pending {
            reason: Some("ContainerCreating".into()),
            message: None
        }
    );
    assert!(
        seen.iter().any(|s| s.method == Method::DELETE
            && s.uri.starts_with(&format!("/api/v1/namespaces/{NS}"))),
        "namespace deleted after the timeout"
    );
}

#[tokio::test]
async fn openshift_is_detected_and_the_uid_range_becomes_a_template_value() {
    let fake = facts_routes(Fake::default(), true)
        .on(Method::POST, "/api/v1/namespaces?", vec![(201, namespace(json!({})))])
        .on(Method::GET, &format!("/api/v1/namespaces/{NS}"), vec![(200, namespace(json!({"openshift.io/sa.scc.uid-range": "1000650000/10000", "openshift.io/sa.scc.supplemental-groups": "1000650000/10000"})))])
        .on(Method::DELETE, &format!("/api/v1/namespaces/{NS}"), vec![(200, namespace(json!({})))])
        .on(Method::POST, &format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/rolebindings"), vec![(201, json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "userns-e2e-edit", "namespace": NS}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"}}))])
        .on(Method::POST, &format!("/api/v1/namespaces/{NS}/pods?"), vec![(403, json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "forbidden", "reason": "Forbidden", "code": 403}))]);
    let s = scenario(
        "",
        "        securityContext: {runAsUser: \"${ns.uidRangeStart}\"}\n",
    );
    let (r, seen, facts) = execute(
        fake,
        maps_exec(""),
        &s,
        Duration::from_secs(5),
        Some("developer"),
    )
    .await;
    let o = r.unwrap();
    assert_eq!(
        facts
            .openshift
            .as_ref()
            .and_then(|f| f.version.as_ref())
            .map(|v| v.to_string())
            .as_deref(),
        Some("4.20.3")
    );
    assert_eq!(
        o.templates.get("ns.uidRangeStart").map(String::as_str),
        Some("1000650000")
    );
    assert_eq!(
        o.templates.get("ns.uidRangeEnd").map(String::as_str),
        Some("1000659999")
    );
    let create = seen
        .iter()
        .find(|s| s.method == Method::POST && s.uri.contains("/pods") && !s.uri.contains("dryRun"))
        .unwrap();
    assert_eq!(
        create.body["spec"]["securityContext"]["runAsUser"], 1000650000,
        "pod-level runAsUser copied from the range start"
    );
    assert_eq!(
        create.user.as_deref(),
        Some("developer"),
        "--as impersonates"
    );
}

#[tokio::test]
async fn cleanup_deletes_only_labelled_namespaces() {
    let list = json!({"apiVersion": "v1", "kind": "NamespaceList", "metadata": {"resourceVersion": "9"}, "items": [namespace(json!({}))]});
    let fake = facts_routes(Fake::default(), false)
        .on(Method::GET, "/api/v1/namespaces?", vec![(200, list)])
        .on(
            Method::DELETE,
            &format!("/api/v1/namespaces/{NS}"),
            vec![(200, namespace(json!({})))],
        );
    let (clients, seen) = fake.start();
    let target = KubeTarget::new(clients, Arc::new(maps_exec("")), KubeOptions::default()).unwrap();
    let removed = target.cleanup().await.unwrap();
    assert_eq!(removed, vec![format!("namespace {NS}")]);
    let log = seen.lock().unwrap();
    let listed = log.iter().find(|s| s.method == Method::GET).unwrap();
    assert!(
        listed
            .uri
            .contains("labelSelector=userns-e2e.io%2Fmanaged%3Dtrue"),
        "{}",
        listed.uri
    );
}

#[test]
fn unreachable_api_server_exits_3_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: \"https://127.0.0.1:{port}\", insecure-skip-tls-verify: true}}\nusers:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\n")).unwrap();
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("scenarios");
    let started = std::time::Instant::now();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_userns-e2e"))
        .args(["run", "--target", "kube", "--kubeconfig"])
        .arg(&kc)
        .arg(&scenarios)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("https://127.0.0.1:{port}")), "{err}");
    // Reported, not asserted as a timing (the bound is enforced by the target's own timeouts).
    eprintln!("gave up after {:?}", started.elapsed());
}

#[tokio::test]
async fn node_evidence_reads_the_host_view_through_docker_exec_on_kind() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("docker.log");
    let docker = dir.path().join("docker");
    std::fs::write(
        &docker,
        format!("#!/bin/sh\ncase \"$*\" in *--crio-config*) printf -- '--subuid\\ncontainers:100000:65536\\n--subgid\\ncontainers:100000:65536\\n--crio-config\\n[crio.runtime]\\nminimum_mappable_uid = -1\\n'; exit 0;; esac\necho \"$@\" > {}\nprintf 'pid 4242\\n--uid_map\\n         0     131072      65536\\n--gid_map\\n         0     131072      65536\\n--status\\nUid:\\t131072\\t131072\\t131072\\t131072\\nGid:\\t131072\\t131072\\t131072\\t131072\\n'\n", log.display()),
    )
    .unwrap();
    let mut perm = std::fs::metadata(&docker).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&docker, perm).unwrap();
    let fake = pod_routes(
        base(Fake::default()),
        vec![running_status()],
        vec![json!([])],
    );
    let (clients, _) = fake.start();
    let options = KubeOptions {
        server: "https://api".into(),
        node_evidence: true,
        docker: Some(docker.display().to_string()),
        ..KubeOptions::default()
    };
    let target = KubeTarget::new(clients, Arc::new(maps_exec("0 131072 65536")), options).unwrap();
    let facts = target.facts().await.unwrap();
    // The node's own facts, read on it once: subordinate ids and CRI-O's config.
    let node = &facts.nodes[0];
    assert_eq!(
        node.subuids.as_ref().map(|m| m["containers"][0].start),
        Some(100000)
    );
    assert_eq!(
        facts.runtime.as_ref().and_then(|r| r.config.clone()),
        Some(json!({"crio": {"runtime": {"minimum_mappable_uid": -1}}}))
    );
    let plan = ExecPlan {
        templates: target.templates(&facts),
        probes: vec![ProbePlan::default()],
        timeout: Duration::from_secs(5),
        run_id: "run1".into(),
        budget: Duration::from_secs(40),
        kubelet: KubeletUserns::GateOn,
    };
    let o = target
        .execute(&scenario("", ""), &plan)
        .await
        .into_result()
        .unwrap();
    let host = o.pods[0].host.clone().expect("a host view");
    assert_eq!(
        (host.pid, host.host_uid, host.source.as_str()),
        (Some(4242), Some(131072), "docker exec crio-1.33-worker")
    );
    assert_eq!(host.uid_map.unwrap().to_string(), "0 131072 65536");
    let args = std::fs::read_to_string(log).unwrap();
    assert!(
        args.starts_with("exec crio-1.33-worker sh -c pid=$(crictl inspect")
            && args.contains(" 4f1e)"),
        "{args}"
    );
}

/// A 403 on one facts call (listing nodes, as a namespace-scoped account
/// gets) is named with the server's words, not swallowed; the rest is read.
#[tokio::test]
async fn forbidden_facts_are_named() {
    let forbidden = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "nodes is forbidden: User \"dev\" cannot list resource \"nodes\" in API group \"\" at the cluster scope", "reason": "Forbidden", "code": 403});
    let fake = facts_routes(
        Fake::default().on(Method::GET, "/api/v1/nodes", vec![(403, forbidden)]),
        true,
    );
    let (clients, _) = fake.start();
    let target = KubeTarget::new(clients, Arc::new(maps_exec("")), KubeOptions::default()).unwrap();
    let facts = target.facts().await.unwrap();
    assert_eq!(
        facts.unreadable,
        vec!["nodes: nodes is forbidden: User \"dev\" cannot list resource \"nodes\" in API group \"\" at the cluster scope (403)".to_string()]
    );
    assert!(facts.runtime.is_none());
    assert_eq!(facts.kubernetes.unwrap().to_string(), "1.33.4");
    assert_eq!(
        facts.openshift.unwrap().version.unwrap().to_string(),
        "4.20.3"
    );
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason, "code": code})
}

/// A 500 is retried with backoff (a real server cannot be made to answer 500
/// on demand); when it persists the scenario errors with the server's words,
/// and the namespace is still deleted.
#[tokio::test]
async fn server_errors_are_retried_then_reported_and_the_namespace_deleted() {
    let busy = status(500, "InternalError", "etcdserver: request timed out");
    let fake = base(Fake::default()).on(
        Method::POST,
        &format!("/api/v1/namespaces/{NS}/pods?"),
        vec![(500, busy)],
    );
    let (r, seen, _) = execute(
        fake,
        maps_exec(""),
        &scenario("", ""),
        Duration::from_secs(5),
        None,
    )
    .await;
    let e = r.unwrap_err();
    assert!(
        e.contains("creating pod userns") && e.contains("etcdserver: request timed out"),
        "{e}"
    );
    let creates = seen
        .iter()
        .filter(|s| {
            s.method == Method::POST && s.uri.contains("/pods") && !s.uri.contains("dryRun")
        })
        .count();
    assert_eq!(creates, 4, "three retries after the first 500");
    assert!(seen
        .iter()
        .any(|s| s.method == Method::DELETE && s.uri.contains(NS)));
}

/// A 500 that clears is invisible to the verdict.
#[tokio::test]
async fn a_passing_server_error_is_retried_away() {
    let fake = base(Fake::default())
        .on(
            Method::POST,
            &format!("/api/v1/namespaces/{NS}/pods?"),
            vec![
                (
                    500,
                    status(500, "InternalError", "etcdserver: leader changed"),
                ),
                (201, pod("userns", json!({}), json!({"phase": "Pending"}))),
            ],
        )
        .on(
            Method::GET,
            &format!("/api/v1/namespaces/{NS}/pods/userns"),
            vec![(200, pod("userns", json!({}), running_status()))],
        )
        .on(
            Method::GET,
            &format!("/api/v1/namespaces/{NS}/events?"),
            vec![(200, event_list(json!([])))],
        );
    let (r, _, _) = execute(
        fake,
        maps_exec("0 131072 65536"),
        &scenario("", ""),
        Duration::from_secs(5),
        None,
    )
    .await;
    assert_eq!(r.unwrap().pods[0].outcome, Outcome::Running);
}

/// A 403 on one call the harness makes as itself (granting the scenario's
/// account its role) ends the scenario with the server's words; the namespace
/// is deleted.
#[tokio::test]
async fn a_forbidden_call_ends_the_scenario_with_the_servers_words() {
    let denied = status(403, "Forbidden", "rolebindings.rbac.authorization.k8s.io is forbidden: User \"dev\" cannot create resource \"rolebindings\"");
    let fake = base(Fake::default()).on(
        Method::POST,
        &format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/rolebindings"),
        vec![(403, denied)],
    );
    let (r, seen, _) = execute(
        fake,
        maps_exec(""),
        &scenario("as: {user: {name: test, role: edit}}\n", ""),
        Duration::from_secs(5),
        None,
    )
    .await;
    let e = r.unwrap_err();
    assert!(e.contains("cannot create resource \"rolebindings\""), "{e}");
    assert!(!seen
        .iter()
        .any(|s| s.method == Method::POST && s.uri.contains("/pods") && !s.uri.contains("dryRun")));
    assert!(seen
        .iter()
        .any(|s| s.method == Method::DELETE && s.uri.contains(NS)));
}

/// The path of SelfSubjectAccessReviews.
const REVIEWS: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

/// A server that answers every SelfSubjectAccessReview with `status`
/// (`Null`: none).
fn reviewer(status: Value) -> (ClientFactory, Arc<Mutex<Vec<Seen>>>) {
    let mut r = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "metadata": {}, "spec": {}});
    if !status.is_null() {
        r["status"] = status;
    }
    Fake::default()
        .on(Method::POST, REVIEWS, vec![(201, r)])
        .start()
}

/// The permission check asks as the harness itself (no impersonation
/// headers), one review per verb and name of every rule; refusals of what
/// the run needs are the error, without a name when the server does not
/// say who the harness is; a review without a status leaves the check to
/// the server's own 403s.
#[tokio::test]
async fn the_permission_check_asks_as_the_harness_and_degrades_without_answers() {
    use userns_e2e::targets::kube::preflight;
    use userns_e2e::targets::kube::Platform;
    let (clients, seen) = reviewer(json!({"allowed": true}));
    let client = clients(None).unwrap();
    assert_eq!(
        preflight::check(&client, Platform::OpenShift).await,
        Ok(Vec::new())
    );
    let asked = seen.lock().unwrap().clone();
    assert_eq!(asked.len(), preflight::questions().len());
    assert!(asked
        .iter()
        .all(|s| s.uri.starts_with(REVIEWS) && s.user.is_none() && s.groups.is_empty()));
    let sent: Vec<Value> = asked.iter().map(|s| s.body["spec"].clone()).collect();
    for q in preflight::questions() {
        let spec = serde_json::to_value(q.review().spec).unwrap();
        assert!(sent.contains(&spec), "{spec} was not asked");
    }

    let (clients, _) = reviewer(json!({"allowed": false}));
    let err = preflight::check(&clients(None).unwrap(), Platform::Kubernetes)
        .await
        .unwrap_err();
    let needed = preflight::questions()
        .iter()
        .filter(|q| q.need.required_on(Platform::Kubernetes))
        .count();
    assert_eq!(err.identity, None);
    assert_eq!(err.missing.len(), needed);
    // nodes/proxy, pods/log and /metrics.
    assert_eq!(err.also.len(), 3, "{:?}", err.also);
    assert!(err
        .to_string()
        .starts_with("the harness's own identity lacks permissions the run needs:\n  may not create namespaces — "));

    let (clients, _) = reviewer(Value::Null);
    assert_eq!(
        preflight::check(&clients(None).unwrap(), Platform::Kubernetes).await,
        Ok(vec![
            "permissions not checked: a SelfSubjectAccessReview came back without a status".into()
        ])
    );
}
