//! The `kube` target: any Kubernetes or OpenShift cluster through kube-rs.
//! One labelled namespace per scenario, pods watched until they settle,
//! exec to read the maps. Decisions are pure functions in [`settle`] and
//! [`facts_of`]; this module is the thin I/O around them.

mod access;
pub mod exec;
pub mod identity;
pub mod node_evidence;
pub mod preflight;
pub mod rbac;
pub mod settle;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event as KubeEvent, Namespace, Node, Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams, WatchParams};
use kube::Client;

use self::exec::PodExec;
use self::identity::Identity;
use crate::facts::{
    Facts, HandlerFeatures, NodeFacts, OpenShiftFacts, RuntimeFacts, RuntimeName, TargetKind,
    USERNS_GATE,
};
use crate::observation::{Admission, ExecResult, HostView, Observation, Outcome, PodObservation};
use crate::parse::{feature_metrics, uid_range};
use crate::plan::ExecPlan;
use crate::scenario::{Account, Scenario};
use crate::targets::lifecycle::{self, PodPlatform};
use crate::targets::{labels, Executed, Target, TargetError};
use crate::templates::Templates;
use crate::version::Version;

/// Makes clients acting as an identity (`None`: the harness's own).
pub type ClientFactory = Arc<dyn Fn(Option<Identity>) -> Result<Client, kube::Error> + Send + Sync>;

/// How to reach the cluster, and the target's options.
#[derive(Debug, Clone, Default)]
pub struct KubeConnect {
    pub kubeconfig: Option<std::path::PathBuf>,
    pub context: Option<String>,
    pub options: KubeOptions,
    /// Ask the API server, before anything runs, whether the harness's own
    /// identity has every rule a run needs ([`preflight`]); not for
    /// `cleanup`, which only lists and deletes namespaces.
    pub check_permissions: bool,
}

#[derive(Debug, Clone, Default)]
pub struct KubeOptions {
    /// Keep each scenario's namespace (debugging).
    pub keep: bool,
    /// Impersonate this user unless a scenario says otherwise.
    pub as_user: Option<String>,
    pub image: Option<String>,
    /// API server URL, for messages.
    pub server: String,
    /// Read the host view on the node (`--node-evidence`); the shell is
    /// chosen from the facts (OpenShift: `oc debug`, else `docker exec`).
    pub node_evidence: bool,
    /// Programs for node evidence (default `docker` and `oc`).
    pub docker: Option<String>,
    pub oc: Option<String>,
}

pub struct KubeTarget {
    /// Set by `facts()`: only OpenShift assigns namespace uid ranges to wait for.
    openshift: std::sync::atomic::AtomicBool,
    clients: ClientFactory,
    client: Client,
    exec: Arc<dyn PodExec>,
    options: KubeOptions,
    /// What the permission check on connecting left for the facts: rules
    /// the run goes on without, or why none were checked.
    permission_notes: Vec<String>,
}

/// The ServiceAccount token file kube-rs's in-cluster config reads.
pub const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// The test image on clusters when `--image` names none: a public image the
/// nodes pull (`ote images` lists it).
pub const DEFAULT_CLUSTER_IMAGE: &str = "docker.io/library/busybox:1.36";

/// Whether this process runs in a pod, by kube-rs's rule for its in-cluster
/// config: the API server's Service in the environment and the mounted
/// ServiceAccount token.
pub fn in_cluster() -> bool {
    in_cluster_from(
        std::env::var("KUBERNETES_SERVICE_HOST").ok().as_deref(),
        std::path::Path::new(SERVICE_ACCOUNT_TOKEN).is_file(),
    )
}

/// [`in_cluster`] on given inputs.
pub fn in_cluster_from(service_host: Option<&str>, token_mounted: bool) -> bool {
    service_host.is_some_and(|h| !h.is_empty()) && token_mounted
}

/// `--target kube`: kubeconfig rules, `--kubeconfig`, `--context`, `--as`.
pub async fn connect(c: &KubeConnect) -> Result<Box<dyn Target>, TargetError> {
    let options = kube::config::KubeConfigOptions {
        context: c.context.clone(),
        ..Default::default()
    };
    let mut config = match &c.kubeconfig {
        Some(path) => {
            let what = || format!("kubeconfig {}", path.display());
            let kc = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| TargetError::unusable_by(what(), e))?;
            kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| TargetError::unusable_by(what(), e))?
        }
        None if c.context.is_some() => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| TargetError::unusable_by("kubeconfig", e))?,
        None => kube::Config::infer()
            .await
            .map_err(|e| TargetError::unusable_by("no cluster configuration found", e))?,
    };
    // An API server that does not answer must not hold the run: exit 3 well within 10 s.
    config.connect_timeout = Some(Duration::from_secs(4));
    config.read_timeout = Some(Duration::from_secs(30));
    let server = config.cluster_url.to_string();
    let cfg = config.clone();
    let clients: ClientFactory = Arc::new(move |id| identity::real_client(&cfg, id));
    let client = clients(None)
        .map_err(|e| TargetError::unusable_by(format!("cannot build a client for {server}"), e))?;
    match tokio::time::timeout(Duration::from_secs(8), client.apiserver_version()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            return Err(TargetError::unusable_by(
                format!("the Kubernetes API server at {server} does not answer"),
                e,
            ))
        }
        Err(_) => {
            return Err(TargetError::unusable(format!(
                "the Kubernetes API server at {server} did not answer within 8s"
            )))
        }
    }
    let permission_notes = if c.check_permissions {
        // Unlisted groups make it plain Kubernetes here as in the facts,
        // which name what could not be read.
        let platform = match client.list_api_groups().await {
            Ok(g) => Platform::of(&g.groups.into_iter().map(|g| g.name).collect::<Vec<_>>()),
            Err(_) => Platform::Kubernetes,
        };
        preflight::check(&client, platform).await.map_err(|e| {
            TargetError::unusable_by(format!("the harness's permissions on {server}"), e)
        })?
    } else {
        Vec::new()
    };
    let options = KubeOptions {
        server,
        ..c.options.clone()
    };
    let mut target = KubeTarget::new(clients, Arc::new(exec::WebSocketExec), options)?;
    target.permission_notes = permission_notes;
    Ok(Box::new(target))
}

/// Which kind of cluster, by the API groups it serves: it decides where the
/// OpenShift facts are read, and so which rules of [`rbac`] a run needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Kubernetes,
    /// OpenShift with ClusterVersion (`config.openshift.io`).
    OpenShift,
    /// OpenShift's SCCs without ClusterVersion: MicroShift.
    MicroShift,
}

impl Platform {
    pub fn of(api_groups: &[String]) -> Platform {
        let serves = |name: &str| api_groups.iter().any(|g| g == name);
        if serves("config.openshift.io") {
            Platform::OpenShift
        } else if serves("security.openshift.io") {
            Platform::MicroShift
        } else {
            Platform::Kubernetes
        }
    }
}

/// The runtime family and version from a node's `containerRuntimeVersion`
/// (`cri-o://1.33.2`).
pub fn runtime_of(node: &Node) -> Option<RuntimeFacts> {
    let status = node.status.as_ref()?;
    let info = status.node_info.as_ref()?;
    let (name, version) = info
        .container_runtime_version
        .split_once("://")
        .unwrap_or((info.container_runtime_version.as_str(), ""));
    let handlers = status
        .runtime_handlers
        .iter()
        .flatten()
        .map(|h| {
            let f = h.features.clone().unwrap_or_default();
            (
                h.name.clone().unwrap_or_default(),
                HandlerFeatures {
                    user_namespaces: f.user_namespaces.unwrap_or(false),
                    recursive_read_only_mounts: f.recursive_read_only_mounts.unwrap_or(false),
                },
            )
        })
        .collect();
    Some(RuntimeFacts {
        name: RuntimeName::from_reported(name),
        reported_name: name.to_string(),
        reported_version: version.to_string(),
        version: Version::parse(version),
        handlers,
        config: None,
    })
}

/// Facts from what the API server reported.
pub fn facts_of(
    server: &str,
    version: &str,
    nodes: &[Node],
    api_groups: &[String],
    openshift_version: Option<&str>,
) -> Facts {
    let kubernetes = Version::parse(version);
    let openshift = (Platform::of(api_groups) != Platform::Kubernetes).then(|| OpenShiftFacts {
        version: openshift_version.and_then(Version::parse),
        sccs: Vec::new(),
    });
    let sends_node = kubernetes
        .as_ref()
        .and_then(|v| crate::requirements::default_gate("UserNamespacesSupport", v));
    Facts {
        target: TargetKind::Kube,
        endpoint: server.to_string(),
        runtime: nodes.first().and_then(runtime_of),
        kubernetes,
        openshift,
        feature_gates: BTreeMap::new(),
        gate_sources: BTreeMap::new(),
        host_view: false,
        nodes: nodes
            .iter()
            .map(|n| NodeFacts {
                name: n.metadata.name.clone(),
                kernel: n
                    .status
                    .as_ref()
                    .and_then(|s| s.node_info.as_ref())
                    .map(|i| i.kernel_version.clone()),
                subuids: None,
                subgids: None,
                max_pods: n
                    .status
                    .as_ref()
                    .and_then(|s| s.capacity.as_ref())
                    .and_then(|c| c.get("pods"))
                    .and_then(|q| q.0.parse().ok()),
            })
            .collect(),
        sends_node_userns_mode: sends_node,
        kubelet_emulated: false,
        kubelet_ids: None,
        unreadable: Vec::new(),
    }
}

fn api_error(e: &kube::Error) -> Option<(u16, String)> {
    match e {
        kube::Error::Api(s) => Some((s.code, s.message.clone())),
        _ => None,
    }
}

/// Retries transient API failures (5xx, 429, transport) with backoff.
async fn retry<T, F, Fut>(what: &str, mut f: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let mut delay = Duration::from_millis(200);
    for attempt in 1.. {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let transient = match api_error(&e) {
                    Some((code, _)) => code == 429 || code >= 500,
                    None => matches!(e, kube::Error::HyperError(_) | kube::Error::Service(_)),
                };
                if !transient || attempt >= 4 {
                    return Err(e);
                }
                tracing::debug!("{what}: transient error, retrying: {e}");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
    unreachable!()
}

impl KubeTarget {
    pub fn new(
        clients: ClientFactory,
        exec: Arc<dyn PodExec>,
        options: KubeOptions,
    ) -> Result<KubeTarget, TargetError> {
        let client = clients(None).map_err(|e| {
            TargetError::unusable_by(format!("cannot build a client for {}", options.server), e)
        })?;
        Ok(KubeTarget {
            openshift: Default::default(),
            clients,
            client,
            exec,
            options,
            permission_notes: Vec::new(),
        })
    }

    fn scenario_err(&self, what: &str, e: kube::Error) -> TargetError {
        TargetError::scenario_by(format!("{what} on {}", self.options.server), e)
    }

    async fn make_namespace(
        &self,
        scenario: &Scenario,
        plan: &ExecPlan,
    ) -> Result<Namespace, TargetError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let mut ns_labels = labels::for_scenario(&plan.run_id, &scenario.id);
        if let Some(level) = scenario.spec.namespace.pod_security {
            for mode in ["enforce", "audit", "warn"] {
                ns_labels.insert(
                    format!("pod-security.kubernetes.io/{mode}"),
                    level.as_str().into(),
                );
            }
            // OpenShift's label syncer would set the level from the SCCs otherwise.
            ns_labels.insert(
                "security.openshift.io/scc.podSecurityLabelSync".into(),
                "false".into(),
            );
        }
        let ns = Namespace {
            metadata: ObjectMeta {
                generate_name: Some("userns-e2e-".into()),
                labels: Some(ns_labels),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        let pp = PostParams::default();
        retry("create namespace", || api.create(&pp, &ns))
            .await
            .map_err(|e| self.scenario_err("creating a namespace", e))
    }

    /// OpenShift assigns the namespace's uid range shortly after creation.
    async fn uid_range(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<Option<uid_range::UidRange>, TargetError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let read = |ns: &Namespace| {
            ns.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(uid_range::ANNOTATION))
                .cloned()
        };
        let ns = api
            .get(name)
            .await
            .map_err(|e| self.scenario_err("reading the namespace", e))?;
        let text = match read(&ns) {
            Some(t) => Some(t),
            None => {
                let cond = |ns: Option<&Namespace>| {
                    ns.and_then(|n| n.metadata.annotations.as_ref())
                        .is_some_and(|a| a.contains_key(uid_range::ANNOTATION))
                };
                match tokio::time::timeout(
                    timeout,
                    kube::runtime::wait::await_condition(api, name, cond),
                )
                .await
                {
                    Ok(Ok(Some(ns))) => read(&ns),
                    // A refused watch is not "no range": say what was refused
                    // (found in-cluster with a ClusterRole lacking `watch`).
                    Ok(Err(e)) => {
                        return Err(TargetError::scenario_by(
                            "watching the namespace until OpenShift sets its uid range",
                            e,
                        ))
                    }
                    Ok(Ok(None)) | Err(_) => None,
                }
            }
        };
        text.map(|t| {
            uid_range::parse(&t)
                .map_err(|e| TargetError::scenario_by("the namespace's uid range", e))
        })
        .transpose()
    }

    /// The identity for this scenario, with the RBAC it needs made in `ns`.
    async fn identity(
        &self,
        scenario: &Scenario,
        ns: &str,
    ) -> Result<Option<Identity>, TargetError> {
        let account = scenario.spec.account.clone().or_else(|| {
            self.options.as_user.clone().map(|name| Account::User {
                name,
                role: "edit".into(),
                also: Vec::new(),
            })
        });
        let Some(account) = account else {
            return Ok(None);
        };
        let (subject, role, identity, also) = match &account {
            Account::User { name, role, also } => (
                Subject {
                    kind: "User".into(),
                    name: name.clone(),
                    api_group: Some("rbac.authorization.k8s.io".into()),
                    namespace: None,
                },
                role.clone(),
                Identity::user(name),
                also.clone(),
            ),
            Account::ServiceAccount { name, role, also } => {
                let pp = PostParams::default();
                let sa = ServiceAccount {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        ..ObjectMeta::default()
                    },
                    ..ServiceAccount::default()
                };
                let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), ns);
                retry("create serviceaccount", || api.create(&pp, &sa))
                    .await
                    .map_err(|e| self.scenario_err("creating the service account", e))?;
                (
                    Subject {
                        kind: "ServiceAccount".into(),
                        name: name.clone(),
                        namespace: Some(ns.to_string()),
                        api_group: None,
                    },
                    role.clone(),
                    Identity::service_account(ns, name),
                    also.clone(),
                )
            }
        };
        let api: Api<RoleBinding> = Api::namespaced(self.client.clone(), ns);
        let pp = PostParams::default();
        for (i, role) in std::iter::once(role).chain(also).enumerate() {
            let rb = RoleBinding {
                metadata: ObjectMeta {
                    // ClusterRole names may hold `:`; a binding name may not.
                    name: Some(format!(
                        "userns-e2e-{i}-{}",
                        labels::value(&role).to_lowercase().replace('_', "-")
                    )),
                    ..ObjectMeta::default()
                },
                role_ref: RoleRef {
                    api_group: Some("rbac.authorization.k8s.io".into()),
                    kind: "ClusterRole".into(),
                    name: role.clone(),
                },
                subjects: Some(vec![subject.clone()]),
            };
            retry("create rolebinding", || api.create(&pp, &rb))
                .await
                .map_err(|e| {
                    self.scenario_err(&format!("granting the scenario's account {role}"), e)
                })?;
        }
        Ok(Some(identity))
    }

    /// The SCCs, sorted by name.
    async fn sccs(&self) -> Result<Vec<crate::facts::SccFact>, kube::Error> {
        let gvk = kube::api::GroupVersionKind::gvk(
            "security.openshift.io",
            "v1",
            "SecurityContextConstraints",
        );
        // The kind is already plural; from_gvk would guess "…constraintses".
        let ar = kube::api::ApiResource::from_gvk_with_plural(&gvk, "securitycontextconstraints");
        let api: Api<kube::api::DynamicObject> = Api::all_with(self.client.clone(), &ar);
        let mut out: Vec<_> = api
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .map(|o| crate::facts::SccFact {
                name: o.metadata.name.unwrap_or_default(),
                priority: o.data.get("priority").and_then(serde_json::Value::as_i64),
                user_namespace_level: o
                    .data
                    .get("userNamespaceLevel")
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn events(&self, ns: &str, pod: &str) -> Vec<crate::observation::Event> {
        let api: Api<KubeEvent> = Api::namespaced(self.client.clone(), ns);
        let lp = ListParams::default().fields(&format!("involvedObject.name={pod}"));
        match api.list(&lp).await {
            Ok(list) => settle::events_of(&list.items),
            Err(_) => Vec::new(),
        }
    }

    /// Watches the pod and its events until it settles or the time is up.
    async fn wait_settled(
        &self,
        ns: &str,
        name: &str,
        timeout: Duration,
    ) -> Result<(Outcome, Vec<crate::observation::Event>, Option<Pod>), TargetError> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let events_api: Api<KubeEvent> = Api::namespaced(self.client.clone(), ns);
        let deadline = Instant::now() + timeout;
        loop {
            let pod = retry("get pod", || pods.get(name))
                .await
                .map_err(|e| self.scenario_err("reading the pod", e))?;
            let events = self.events(ns, name).await;
            if let Some(o) = settle::settle(&pod, &events) {
                return Ok((o, events, Some(pod)));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok((settle::pending(&pod), events, Some(pod)));
            }
            let secs = left.as_secs().clamp(1, 290) as u32;
            let rv = pod
                .metadata
                .resource_version
                .clone()
                .unwrap_or_else(|| "0".into());
            let pod_watch = pods
                .watch(
                    &WatchParams::default()
                        .fields(&format!("metadata.name={name}"))
                        .timeout(secs),
                    &rv,
                )
                .await;
            let ev_watch = events_api
                .watch(
                    &WatchParams::default()
                        .fields(&format!("involvedObject.name={name}"))
                        .timeout(secs),
                    "0",
                )
                .await;
            match (pod_watch, ev_watch) {
                (Ok(p), Ok(e)) => {
                    let mut merged =
                        futures::stream::select(p.map(|_| ()).boxed(), e.map(|_| ()).boxed());
                    // Any change (or a watch ending) means: look again.
                    let _ = tokio::time::timeout(left, merged.next()).await;
                }
                (Err(e), _) | (_, Err(e)) => return Err(self.scenario_err("watching the pod", e)),
            }
        }
    }

    /// The host view of `container` of `pod`, read on its node.
    async fn node_view(&self, pod: Option<&Pod>, container: &str) -> Result<HostView, TargetError> {
        let pod = pod.ok_or(TargetError::scenario("the pod was not read"))?;
        let node_name = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .ok_or(TargetError::scenario("the pod has no node"))?;
        let id = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.name == container))
            .and_then(|c| c.container_id.clone())
            .ok_or(TargetError::scenario("the container has no id yet"))?;
        let id = id
            .split_once("://")
            .map(|(_, i)| i.to_string())
            .unwrap_or(id);
        let shell = self.node_shell(self.openshift.load(std::sync::atomic::Ordering::Relaxed));
        tokio::task::spawn_blocking(move || node_evidence::read(&shell, &node, &id))
            .await
            .map_err(|e| TargetError::scenario_by("reading node evidence", e))?
            .map_err(|e| TargetError::scenario_by(format!("node evidence from {node_name}"), e))
    }

    /// How `--node-evidence` reaches a node: `oc debug` on OpenShift, else
    /// `docker exec` (kind).
    fn node_shell(&self, openshift: bool) -> node_evidence::NodeShell {
        if openshift {
            node_evidence::NodeShell::OcDebug {
                program: self.options.oc.clone().unwrap_or_else(|| "oc".into()),
            }
        } else {
            node_evidence::NodeShell::Docker {
                program: self
                    .options
                    .docker
                    .clone()
                    .unwrap_or_else(|| "docker".into()),
            }
        }
    }

    /// With `--node-evidence`, the first node's subordinate ids and runtime
    /// configuration, read on the node (the API reports neither).
    async fn node_readout(&self, facts: &mut Facts, missing: &mut Vec<String>) {
        let Some(node) = facts.nodes.first().and_then(|n| n.name.clone()) else {
            return;
        };
        let shell = self.node_shell(facts.openshift.is_some());
        let name = node.clone();
        let r = tokio::task::spawn_blocking(move || node_evidence::read_facts(&shell, &name)).await;
        match r {
            Ok(Ok(readout)) => {
                if let Some(n) = facts.nodes.first_mut() {
                    n.subuids = readout.subuids;
                    n.subgids = readout.subgids;
                }
                if let Some(rt) = facts.runtime.as_mut() {
                    rt.config = readout.runtime_config;
                }
            }
            Ok(Err(e)) => missing.push(format!(
                "node facts from {node}: {}",
                crate::targets::chain(&e)
            )),
            Err(e) => missing.push(format!("node facts from {node}: {e}")),
        }
    }

    async fn delete_namespace(&self, name: &str) -> Result<(), kube::Error> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let dp = DeleteParams::background();
        retry("delete namespace", || api.delete(name, &dp))
            .await
            .map(|_| ())
    }
}

/// A scenario's namespace and the client acting as its account.
pub struct KubeScope {
    ns: String,
    client: Mutex<Option<Client>>,
}

impl KubeScope {
    fn client(&self, fallback: &Client) -> Client {
        lock(&self.client)
            .clone()
            .unwrap_or_else(|| fallback.clone())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A created pod and the last state read of it.
pub struct KubePod {
    name: String,
    last: Mutex<Option<Pod>>,
}

fn scc_of(pod: &Pod) -> Option<String> {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("openshift.io/scc"))
        .cloned()
}

#[async_trait]
impl PodPlatform for KubeTarget {
    type Scope = KubeScope;
    type Handle = KubePod;

    async fn open(&self, scenario: &Scenario, plan: &ExecPlan) -> Result<KubeScope, TargetError> {
        let ns = self.make_namespace(scenario, plan).await?;
        Ok(KubeScope {
            ns: ns.metadata.name.unwrap_or_default(),
            client: Mutex::new(None),
        })
    }

    async fn prepare(
        &self,
        scope: &KubeScope,
        scenario: &Scenario,
        plan: &ExecPlan,
        observation: &mut Observation,
    ) -> Result<Templates, TargetError> {
        let ns = scope.ns.as_str();
        let mut templates = plan.templates.clone();
        templates.insert("ns.name".into(), ns.to_string());
        observation
            .templates
            .insert("ns.name".into(), ns.to_string());
        let openshift = self.openshift.load(std::sync::atomic::Ordering::Relaxed);
        let range = if openshift {
            self.uid_range(ns, Duration::from_secs(30)).await?
        } else {
            None
        };
        if let Some(r) = range {
            for (k, v) in [
                ("ns.uidRangeStart", r.start as u64),
                ("ns.uidRangeSize", r.size as u64),
                ("ns.uidRangeEnd", r.end()),
            ] {
                templates.insert(k.into(), v.to_string());
                observation.templates.insert(k.into(), v.to_string());
            }
        }
        let identity = self.identity(scenario, ns).await?;
        let client = (self.clients)(identity.clone())
            .map_err(|e| TargetError::scenario_by("a client for the scenario's account", e))?;
        if let Some(id) = &identity {
            observation
                .notes
                .push(format!("pods created as {}", id.user));
            // Bounded: the RoleBinding usually takes effect within a second.
            match access::wait_can_create_pods(&client, ns, Duration::from_secs(15)).await {
                access::Access::Allowed { .. } => {}
                access::Access::Denied { reason } => {
                    return Err(TargetError::scenario(format!(
                        "{} still may not create pods in {ns} 15s after its RoleBinding \
                         (SelfSubjectAccessReview: {reason})",
                        id.user
                    )))
                }
                access::Access::Unknown { why } => observation.notes.push(format!(
                    "could not ask whether {} may create pods ({why}); created them anyway",
                    id.user
                )),
            }
        }
        *lock(&scope.client) = Some(client);
        Ok(templates)
    }

    async fn create(
        &self,
        scope: &KubeScope,
        _: &Scenario,
        _: &ExecPlan,
        _: usize,
        pod: &Pod,
        obs: &mut PodObservation,
    ) -> Result<Option<KubePod>, TargetError> {
        let pods: Api<Pod> = Api::namespaced(scope.client(&self.client), &scope.ns);
        let pp = PostParams::default();
        let name = obs.name.clone();
        match retry("create pod", || pods.create(&pp, pod)).await {
            Err(e) => match api_error(&e) {
                Some((code, message)) if (400..500).contains(&code) => {
                    obs.admission = Admission::Refused {
                        code: Some(code),
                        message,
                    };
                    Ok(None)
                }
                _ => Err(self.scenario_err(&format!("creating pod {name}"), e)),
            },
            Ok(created) => {
                obs.id = created.metadata.uid.clone();
                obs.scc = scc_of(&created);
                Ok(Some(KubePod {
                    name,
                    last: Mutex::new(Some(created)),
                }))
            }
        }
    }

    async fn settle(
        &self,
        scope: &KubeScope,
        pod: &KubePod,
        timeout: Duration,
        obs: &mut PodObservation,
    ) -> Result<(), TargetError> {
        let (outcome, events, last) = self.wait_settled(&scope.ns, &pod.name, timeout).await?;
        obs.outcome = outcome;
        obs.events = events;
        if obs.scc.is_none() {
            obs.scc = last.as_ref().and_then(scc_of);
        }
        if last.is_some() {
            *lock(&pod.last) = last;
        }
        Ok(())
    }

    async fn exec(
        &self,
        scope: &KubeScope,
        pod: &KubePod,
        container: &str,
        command: Vec<String>,
    ) -> Result<ExecResult, TargetError> {
        let client = scope.client(&self.client);
        self.exec
            .exec(&client, &scope.ns, &pod.name, container, &command)
            .await
    }

    /// Exec may be refused (an SCC without exec rights, a shell-less
    /// image): the container's logs are kept as evidence instead.
    async fn exec_failed(
        &self,
        scope: &KubeScope,
        pod: &KubePod,
        container: &str,
        error: TargetError,
        obs: &mut PodObservation,
        notes: &mut Vec<String>,
    ) -> Result<(), TargetError> {
        notes.push(format!(
            "pod {}: exec failed ({}); logs kept instead",
            pod.name,
            error.chain()
        ));
        let pods: Api<Pod> = Api::namespaced(scope.client(&self.client), &scope.ns);
        let lp = LogParams {
            container: Some(container.to_string()),
            ..LogParams::default()
        };
        obs.logs = pods.logs(&pod.name, &lp).await.ok();
        Ok(())
    }

    async fn host_view(
        &self,
        _: &KubeScope,
        pod: &KubePod,
        container: &str,
    ) -> Option<Result<HostView, TargetError>> {
        if !self.options.node_evidence {
            return None;
        }
        let last = lock(&pod.last).clone();
        Some(self.node_view(last.as_ref(), container).await)
    }

    async fn close(&self, scope: KubeScope, observation: &mut Observation) -> Vec<String> {
        if self.options.keep {
            observation
                .notes
                .push(format!("namespace {} kept (--keep)", scope.ns));
            return Vec::new();
        }
        match self.delete_namespace(&scope.ns).await {
            Ok(()) => Vec::new(),
            Err(e) => vec![format!("namespace {}: {e}", scope.ns)],
        }
    }

    fn describe(&self, scope: &KubeScope) -> String {
        format!("namespace {} on {}", scope.ns, self.options.server)
    }
}

impl KubeTarget {
    /// The user-namespace gates as this cluster has them, not as its version
    /// suggests (MicroShift 4.19 can run with the gate on): the kubelet's
    /// `kubernetes_feature_enabled` through the API server's node proxy; else
    /// whether the API server keeps `hostUsers: false` in a server-side dry
    /// run (it drops the field while its gate is off; on single-process
    /// distributions such as MicroShift the kubelet shares that gate, and the
    /// API server's own metric keeps the value it had at start); else the API
    /// server's metric. None of them: the version's defaults stay, and
    /// `unreadable` says why.
    async fn read_gates(&self, node: Option<&str>, facts: &mut Facts, missing: &mut Vec<String>) {
        let mut failed: Vec<String> = Vec::new();
        let mut found: Option<(BTreeMap<String, bool>, String)> = None;
        if let Some(n) = node {
            let source = format!("the kubelet's metrics (node proxy, node {n})");
            match self
                .gates_from_metrics(&format!("/api/v1/nodes/{n}/proxy/metrics"))
                .await
            {
                Ok(g) => found = Some((g, source)),
                Err(why) => failed.push(format!("{source}: {why}")),
            }
        }
        if found.is_none() {
            let source = "a server-side dry run of a hostUsers: false pod".to_string();
            match self.host_users_kept().await {
                Ok(kept) => {
                    found = Some((BTreeMap::from([(USERNS_GATE.to_string(), kept)]), source))
                }
                Err(e) => failed.push(unreadable(&source, &e)),
            }
        }
        if found.is_none() {
            let source = "the API server's metrics".to_string();
            match self.gates_from_metrics("/metrics").await {
                Ok(g) => found = Some((g, source)),
                Err(why) => failed.push(format!("{source}: {why}")),
            }
        }
        let Some((gates, source)) = found else {
            missing.push(format!(
                "feature gates (the Kubernetes version's defaults are used): {}",
                failed.join("; ")
            ));
            return;
        };
        let source = if failed.is_empty() {
            source
        } else {
            format!("{source}; not {}", failed.join("; not "))
        };
        if let Some(on) = gates.get(USERNS_GATE) {
            facts.sends_node_userns_mode = Some(*on);
        }
        for (gate, on) in gates {
            facts.gate_sources.insert(gate.clone(), source.clone());
            facts.feature_gates.insert(gate, on);
        }
    }

    /// The `UserNamespaces*` gates a component's metrics report.
    async fn gates_from_metrics(&self, path: &str) -> Result<BTreeMap<String, bool>, String> {
        let text = self.get_text(path).await.map_err(|e| match api_error(&e) {
            Some((code, message)) => format!("{message} ({code})"),
            None => e.to_string(),
        })?;
        let gates: BTreeMap<String, bool> = feature_metrics::feature_gates(&text)
            .into_iter()
            .filter(|(k, _)| k.starts_with("UserNamespaces"))
            .collect();
        if gates.is_empty() {
            return Err("no UserNamespaces* gate in kubernetes_feature_enabled".into());
        }
        Ok(gates)
    }

    /// Whether the API server keeps `hostUsers: false` on a pod (dry run in
    /// `default`: nothing is stored).
    async fn host_users_kept(&self) -> Result<bool, kube::Error> {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"generateName": "userns-e2e-gate-probe-"},
            "spec": {"hostUsers": false, "containers": [{"name": "c", "image": "gate-probe"}]}
        }))
        .map_err(kube::Error::SerdeError)?;
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), "default");
        let pp = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        let created = pods.create(&pp, &pod).await?;
        Ok(created.spec.and_then(|s| s.host_users) == Some(false))
    }

    async fn get_text(&self, path: &str) -> Result<String, kube::Error> {
        let req = http::Request::get(path)
            .body(Vec::new())
            .map_err(kube::Error::HttpError)?;
        self.client.request_text(req).await
    }
}

/// A fact that could not be read, named with the server's answer.
fn unreadable(what: &str, e: &kube::Error) -> String {
    match api_error(e) {
        Some((code, message)) => format!("{what}: {message} ({code})"),
        None => format!("{what}: {e}"),
    }
}

#[async_trait]
impl Target for KubeTarget {
    async fn facts(&self) -> Result<Facts, TargetError> {
        let version = self.client.apiserver_version().await.map_err(|e| {
            TargetError::unusable_by(
                format!("reading the version from {}", self.options.server),
                e,
            )
        })?;
        let mut missing = self.permission_notes.clone();
        let nodes: Api<Node> = Api::all(self.client.clone());
        let nodes = match nodes.list(&ListParams::default()).await {
            Ok(l) => l.items,
            Err(e) => {
                missing.push(unreadable("nodes", &e));
                Vec::new()
            }
        };
        let groups: Vec<String> = match self.client.list_api_groups().await {
            Ok(g) => g.groups.into_iter().map(|g| g.name).collect(),
            Err(e) => {
                missing.push(unreadable("API groups", &e));
                Vec::new()
            }
        };
        let openshift_version = match Platform::of(&groups) {
            Platform::OpenShift => {
                let gvk =
                    kube::api::GroupVersionKind::gvk("config.openshift.io", "v1", "ClusterVersion");
                let ar = kube::api::ApiResource::from_gvk(&gvk);
                let api: Api<kube::api::DynamicObject> = Api::all_with(self.client.clone(), &ar);
                match api.get("version").await {
                    Ok(cv) => cv
                        .data
                        .pointer("/status/desired/version")
                        .and_then(|v| v.as_str())
                        .map(str::to_string),
                    Err(e) => {
                        missing.push(unreadable("ClusterVersion", &e));
                        None
                    }
                }
            }
            Platform::MicroShift => {
                // MicroShift has no ClusterVersion: its version is in this ConfigMap.
                let cms: Api<k8s_openapi::api::core::v1::ConfigMap> =
                    Api::namespaced(self.client.clone(), "kube-public");
                match cms.get("microshift-version").await {
                    Ok(cm) => cm.data.and_then(|d| d.get("version").cloned()),
                    Err(e) => {
                        missing.push(unreadable("ConfigMap kube-public/microshift-version", &e));
                        None
                    }
                }
            }
            Platform::Kubernetes => None,
        };
        let mut facts = facts_of(
            &self.options.server,
            &version.git_version,
            &nodes,
            &groups,
            openshift_version.as_deref(),
        );
        if let Some(o) = facts.openshift.as_mut() {
            match self.sccs().await {
                Ok(list) => o.sccs = list,
                Err(e) => missing.push(unreadable("SecurityContextConstraints", &e)),
            }
        }
        let first_node = nodes.first().and_then(|n| n.metadata.name.clone());
        self.read_gates(first_node.as_deref(), &mut facts, &mut missing)
            .await;
        facts.host_view = self.options.node_evidence;
        if self.options.node_evidence {
            self.node_readout(&mut facts, &mut missing).await;
        }
        facts.unreadable = missing;
        self.openshift.store(
            facts.openshift.is_some(),
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(facts)
    }

    fn templates(&self, facts: &Facts) -> Templates {
        // On clusters the nodes pull: public images, unless --image says otherwise.
        let image = self
            .options
            .image
            .as_deref()
            .unwrap_or(DEFAULT_CLUSTER_IMAGE);
        crate::templates::run_values(image, "registry.k8s.io/pause:3.10", 65536, facts)
    }

    async fn execute(&self, scenario: &Scenario, plan: &ExecPlan) -> Executed {
        lifecycle::execute(self, scenario, plan, plan.budget).await
    }

    async fn cleanup(&self) -> Result<Vec<String>, TargetError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let list = api
            .list(&ListParams::default().labels(&format!("{}=true", labels::MANAGED)))
            .await
            .map_err(|e| {
                TargetError::unusable_by(
                    format!("listing namespaces on {}", self.options.server),
                    e,
                )
            })?;
        let mut out = Vec::new();
        for ns in list.items {
            let name = ns.metadata.name.unwrap_or_default();
            self.delete_namespace(&name)
                .await
                .map_err(|e| TargetError::scenario_by(format!("deleting namespace {name}"), e))?;
            out.push(format!("namespace {name}"));
        }
        Ok(out)
    }

    async fn cancel_run(&self, run_id: &str) -> Vec<String> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let lp =
            ListParams::default().labels(&format!("{}={}", labels::RUN, labels::value(run_id)));
        let mut out = Vec::new();
        if let Ok(list) = api.list(&lp).await {
            for ns in list.items {
                let name = ns.metadata.name.unwrap_or_default();
                match self.delete_namespace(&name).await {
                    Ok(()) => out.push(format!("deleted namespace {name}")),
                    Err(e) => out.push(format!("could not delete namespace {name}: {e}")),
                }
            }
        }
        out
    }
}
