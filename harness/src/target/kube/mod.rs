//! The `kube` target: any Kubernetes or OpenShift cluster through kube-rs.
//! One labelled namespace per scenario, pods watched until they settle,
//! exec to read the maps. Decisions are pure functions in [`settle`] and
//! [`facts_of`]; this module is the thin I/O around them.

pub mod exec;
pub mod identity;
pub mod node_evidence;
pub mod settle;

use std::collections::BTreeMap;
use std::sync::Arc;
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
use crate::cli::target_args::TargetArgs;
use crate::facts::{
    Facts, HandlerFeatures, NodeFacts, OpenShiftFacts, RuntimeFacts, RuntimeName, TargetKind,
};
use crate::observation::{Admission, Observation, Outcome, PodObservation};
use crate::parse::uid_range;
use crate::scenario::{Account, Scenario};
use crate::target::{labels, ExecPlan, Target, TargetError};
use crate::templates::Templates;
use crate::version::Version;

/// Makes clients acting as an identity (`None`: the harness's own).
pub type ClientFactory = Arc<dyn Fn(Option<Identity>) -> Result<Client, String> + Send + Sync>;

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
}

/// `--target kube`: kubeconfig rules, `--kubeconfig`, `--context`, `--as`.
pub async fn connect(args: &TargetArgs) -> Result<Box<dyn Target>, TargetError> {
    let options = kube::config::KubeConfigOptions {
        context: args.context.clone(),
        ..Default::default()
    };
    let mut config = match &args.kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| {
                TargetError::Unusable(format!("kubeconfig {}: {e}", path.display()))
            })?;
            kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| TargetError::Unusable(format!("kubeconfig {}: {e}", path.display())))?
        }
        None if args.context.is_some() => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| TargetError::Unusable(format!("kubeconfig: {e}")))?,
        None => kube::Config::infer()
            .await
            .map_err(|e| TargetError::Unusable(format!("no cluster configuration found: {e}")))?,
    };
    // An API server that does not answer must not hold the run: exit 3 well within 10 s.
    config.connect_timeout = Some(Duration::from_secs(4));
    config.read_timeout = Some(Duration::from_secs(30));
    let server = config.cluster_url.to_string();
    let cfg = config.clone();
    let clients: ClientFactory = Arc::new(move |id| identity::real_client(&cfg, id));
    let client = clients(None).map_err(TargetError::Unusable)?;
    match tokio::time::timeout(Duration::from_secs(8), client.apiserver_version()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            return Err(TargetError::Unusable(format!(
                "the Kubernetes API server at {server} does not answer: {e}"
            )))
        }
        Err(_) => {
            return Err(TargetError::Unusable(format!(
                "the Kubernetes API server at {server} did not answer within 8s"
            )))
        }
    }
    let options = KubeOptions {
        keep: args.keep,
        as_user: args.as_user.clone(),
        image: args.image.clone(),
        server,
        node_evidence: args.node_evidence,
        ..KubeOptions::default()
    };
    Ok(Box::new(
        KubeTarget::new(clients, Arc::new(exec::WebSocketExec), options)
            .map_err(TargetError::Unusable)?,
    ))
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
    let openshift = api_groups
        .iter()
        .any(|g| g == "security.openshift.io" || g == "config.openshift.io")
        .then(|| OpenShiftFacts {
            version: openshift_version.and_then(Version::parse),
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
            })
            .collect(),
        sends_node_userns_mode: sends_node,
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
    ) -> Result<KubeTarget, String> {
        let client = clients(None)?;
        Ok(KubeTarget {
            openshift: Default::default(),
            clients,
            client,
            exec,
            options,
        })
    }

    fn scenario_err(&self, what: &str, e: kube::Error) -> TargetError {
        TargetError::Scenario(format!("{what} on {}: {e}", self.options.server))
    }

    async fn make_namespace(
        &self,
        scenario: &Scenario,
        plan: &ExecPlan,
    ) -> Result<Namespace, TargetError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let ns = Namespace {
            metadata: ObjectMeta {
                generate_name: Some("userns-e2e-".into()),
                labels: Some(labels::for_scenario(&plan.run_id, &scenario.id)),
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
                    _ => None,
                }
            }
        };
        text.map(|t| uid_range::parse(&t).map_err(|e| TargetError::Scenario(e.to_string())))
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
            })
        });
        let Some(account) = account else {
            return Ok(None);
        };
        let (subject, role, identity) = match &account {
            Account::User { name, role } => (
                Subject {
                    kind: "User".into(),
                    name: name.clone(),
                    api_group: Some("rbac.authorization.k8s.io".into()),
                    namespace: None,
                },
                role.clone(),
                Identity::user(name),
            ),
            Account::ServiceAccount { name, role } => {
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
                )
            }
        };
        let rb = RoleBinding {
            metadata: ObjectMeta {
                name: Some(format!("userns-e2e-{role}")),
                ..ObjectMeta::default()
            },
            role_ref: RoleRef {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "ClusterRole".into(),
                name: role,
            },
            subjects: Some(vec![subject]),
        };
        let api: Api<RoleBinding> = Api::namespaced(self.client.clone(), ns);
        let pp = PostParams::default();
        retry("create rolebinding", || api.create(&pp, &rb))
            .await
            .map_err(|e| self.scenario_err("granting the scenario's account its role", e))?;
        Ok(Some(identity))
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

    async fn run_pods(
        &self,
        scenario: &Scenario,
        plan: &ExecPlan,
        ns: &str,
        observation: &mut Observation,
    ) -> Result<(), TargetError> {
        let mut templates = plan.templates.clone();
        templates.insert("ns.name".into(), ns.to_string());
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
        observation
            .templates
            .insert("ns.name".into(), ns.to_string());
        let identity = self.identity(scenario, ns).await?;
        let client = (self.clients)(identity.clone()).map_err(TargetError::Scenario)?;
        if let Some(id) = &identity {
            observation
                .notes
                .push(format!("pods created as {}", id.user));
        }
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        for (i, case) in scenario.spec.pods.iter().enumerate() {
            let started = Instant::now();
            let pod = crate::scenario::load::materialize_pod(&case.pod, &templates)
                .map_err(TargetError::Scenario)?;
            let name = pod.metadata.name.clone().unwrap_or_default();
            let mut obs = PodObservation {
                name: name.clone(),
                ..PodObservation::default()
            };
            let pp = PostParams::default();
            match retry("create pod", || pods.create(&pp, &pod)).await {
                Err(e) => match api_error(&e) {
                    Some((code, message)) if (400..500).contains(&code) => {
                        obs.admission = Admission::Refused {
                            code: Some(code),
                            message,
                        };
                        obs.outcome = Outcome::NotCreated;
                    }
                    _ => return Err(self.scenario_err(&format!("creating pod {name}"), e)),
                },
                Ok(created) => {
                    obs.id = created.metadata.uid.clone();
                    obs.scc = created
                        .metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get("openshift.io/scc"))
                        .cloned();
                    let (outcome, events, last) =
                        self.wait_settled(ns, &name, plan.timeout).await?;
                    obs.outcome = outcome;
                    obs.events = events;
                    if obs.scc.is_none() {
                        obs.scc = last
                            .as_ref()
                            .and_then(|p| p.metadata.annotations.as_ref())
                            .and_then(|a| a.get("openshift.io/scc"))
                            .cloned();
                    }
                    let probe_plan = plan.probes.get(i).cloned().unwrap_or_default();
                    let container = probe_plan
                        .container
                        .clone()
                        .or_else(|| {
                            pod.spec
                                .as_ref()
                                .and_then(|s| s.containers.first())
                                .map(|c| c.name.clone())
                        })
                        .unwrap_or_default();
                    if obs.outcome == Outcome::Running && self.options.node_evidence {
                        match self.node_view(last.as_ref(), &container).await {
                            Ok(v) => obs.host = Some(v),
                            Err(e) => observation
                                .notes
                                .push(format!("pod {name}: no node evidence: {e}")),
                        }
                    }
                    if obs.outcome == Outcome::Running {
                        let exec = |cmd: Vec<String>| {
                            let (client, name, container) =
                                (client.clone(), name.clone(), container.clone());
                            async move { self.exec.exec(&client, ns, &name, &container, &cmd).await }
                        };
                        match crate::target::probe::read(&container, &probe_plan, exec).await {
                            Ok(p) => obs.inside = p,
                            Err(e) => {
                                observation.notes.push(format!(
                                    "pod {name}: exec failed ({e}); logs kept instead"
                                ));
                                let lp = LogParams {
                                    container: Some(container.clone()),
                                    ..LogParams::default()
                                };
                                obs.logs = pods.logs(&name, &lp).await.ok();
                            }
                        }
                    }
                }
            }
            obs.duration_ms = started.elapsed().as_millis() as u64;
            observation.pods.push(obs);
        }
        Ok(())
    }

    /// The host view of `container` of `pod`, read on its node.
    async fn node_view(
        &self,
        pod: Option<&Pod>,
        container: &str,
    ) -> Result<crate::observation::HostView, String> {
        let pod = pod.ok_or("the pod was not read")?;
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .ok_or("the pod has no node")?;
        let id = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.name == container))
            .and_then(|c| c.container_id.clone())
            .ok_or("the container has no id yet")?;
        let id = id
            .split_once("://")
            .map(|(_, i)| i.to_string())
            .unwrap_or(id);
        let shell = if self.openshift.load(std::sync::atomic::Ordering::Relaxed) {
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
        };
        tokio::task::spawn_blocking(move || node_evidence::read(&shell, &node, &id))
            .await
            .map_err(|e| e.to_string())?
    }

    async fn delete_namespace(&self, name: &str) -> Result<(), kube::Error> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let dp = DeleteParams::background();
        retry("delete namespace", || api.delete(name, &dp))
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl Target for KubeTarget {
    fn kind(&self) -> TargetKind {
        TargetKind::Kube
    }

    async fn facts(&self) -> Result<Facts, TargetError> {
        let unusable = |what: &str, e: kube::Error| {
            TargetError::Unusable(format!("{what} from {}: {e}", self.options.server))
        };
        let version = self
            .client
            .apiserver_version()
            .await
            .map_err(|e| unusable("reading the version", e))?;
        let nodes: Api<Node> = Api::all(self.client.clone());
        let nodes = nodes
            .list(&ListParams::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        let groups: Vec<String> = self
            .client
            .list_api_groups()
            .await
            .map(|g| g.groups.into_iter().map(|g| g.name).collect())
            .unwrap_or_default();
        let openshift_version = if groups.iter().any(|g| g == "config.openshift.io") {
            let gvk =
                kube::api::GroupVersionKind::gvk("config.openshift.io", "v1", "ClusterVersion");
            let ar = kube::api::ApiResource::from_gvk(&gvk);
            let api: Api<kube::api::DynamicObject> = Api::all_with(self.client.clone(), &ar);
            api.get("version").await.ok().and_then(|cv| {
                cv.data
                    .pointer("/status/desired/version")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
        } else {
            None
        };
        let facts = facts_of(
            &self.options.server,
            &version.git_version,
            &nodes,
            &groups,
            openshift_version.as_deref(),
        );
        self.openshift.store(
            facts.openshift.is_some(),
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(facts)
    }

    fn templates(&self, facts: &Facts) -> Templates {
        let mut t = Templates::new();
        t.insert(
            "image.busybox".into(),
            self.options
                .image
                .clone()
                .unwrap_or_else(|| "docker.io/library/busybox:1.36".into()),
        );
        t.insert("image.pause".into(), "registry.k8s.io/pause:3.10".into());
        if let Some(r) = &facts.runtime {
            t.insert("runtime.name".into(), r.reported_name.clone());
            t.insert("runtime.version".into(), r.reported_version.clone());
        }
        t.insert("node.idsPerPod".into(), "65536".into());
        t
    }

    async fn execute(
        &self,
        scenario: &Scenario,
        plan: &ExecPlan,
    ) -> Result<Observation, TargetError> {
        let ns = self.make_namespace(scenario, plan).await?;
        let name = ns.metadata.name.clone().unwrap_or_default();
        let mut observation = Observation::default();
        let result = self.run_pods(scenario, plan, &name, &mut observation).await;
        if self.options.keep {
            observation
                .notes
                .push(format!("namespace {name} kept (--keep)"));
        } else if let Err(e) = self.delete_namespace(&name).await {
            observation
                .notes
                .push(format!("could not delete namespace {name}: {e}"));
            result?;
            return Err(TargetError::Scenario(format!(
                "could not delete namespace {name}: {e}"
            )));
        }
        result.map(|()| observation)
    }

    async fn cleanup(&self) -> Result<Vec<String>, TargetError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let list = api
            .list(&ListParams::default().labels(&format!("{}=true", labels::MANAGED)))
            .await
            .map_err(|e| {
                TargetError::Unusable(format!(
                    "listing namespaces on {}: {e}",
                    self.options.server
                ))
            })?;
        let mut out = Vec::new();
        for ns in list.items {
            let name = ns.metadata.name.unwrap_or_default();
            self.delete_namespace(&name)
                .await
                .map_err(|e| TargetError::Scenario(format!("deleting namespace {name}: {e}")))?;
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
