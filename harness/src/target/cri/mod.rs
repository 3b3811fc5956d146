//! The `cri` target: a CRI runtime socket driven directly, doing what the
//! kubelet does for the parts that matter to user namespaces.

pub mod allocator;
pub mod client;
pub mod host;
pub mod proto;
pub mod translate;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Pod;
use tonic::transport::Channel;

use self::allocator::{Allocation, Allocator, Range};
use self::proto::runtime_service_client::RuntimeServiceClient;
use self::translate::Userns;
use crate::cli::target_args::TargetArgs;
use crate::facts::{Facts, HandlerFeatures, NodeFacts, RuntimeFacts, RuntimeName, TargetKind};
use crate::observation::{Admission, Event, ExecResult, Observation, Outcome, PodObservation};
use crate::parse::subid;
use crate::scenario::Scenario;
use crate::target::{labels, ExecPlan, Target, TargetError};
use crate::templates::Templates;
use crate::version::Version;

/// Numbers pods within this process, so sandbox uids are unique per run.
static POD_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Images the local node imports; used unless `--image` says otherwise.
pub const DEFAULT_IMAGE: &str = "docker.io/library/busybox:latest";
pub const PAUSE_IMAGE: &str = "docker.io/library/pause:latest";

#[derive(Debug, Clone)]
pub struct CriOptions {
    /// Allocator state and container logs.
    pub state_dir: PathBuf,
    pub ids_per_pod: u32,
    pub max_pods: u32,
    /// Send user-namespace mode NODE for pods without `hostUsers: false`, as
    /// the kubelet does once UserNamespacesSupport is on; when false, send no
    /// user-namespace options so CRI-O reads its annotation.
    pub sends_node_userns_mode: bool,
    pub image: Option<String>,
    /// Label for reports (`cri`, or `local` when the harness runs the node).
    pub kind: TargetKind,
}

impl Default for CriOptions {
    fn default() -> Self {
        CriOptions {
            state_dir: PathBuf::from("/var/lib/userns-e2e/cri"),
            ids_per_pod: allocator::DEFAULT_IDS_PER_POD,
            max_pods: allocator::DEFAULT_MAX_PODS,
            sends_node_userns_mode: true,
            image: None,
            kind: TargetKind::Cri,
        }
    }
}

pub struct CriTarget {
    socket: String,
    client: RuntimeServiceClient<Channel>,
    options: CriOptions,
    allocator: Allocator,
    /// Sandboxes made and not yet removed, for Ctrl-C.
    inflight: Mutex<HashMap<String, String>>,
    /// Set by `cancel_run`: no new sandbox is started after Ctrl-C.
    cancelled: std::sync::atomic::AtomicBool,
}

/// `--target cri --socket …`.
pub async fn connect(args: &TargetArgs) -> Result<Box<dyn Target>, TargetError> {
    let socket = args.socket.clone().ok_or_else(|| {
        TargetError::Unusable("--target cri needs --socket unix:///path/to/cri.sock".into())
    })?;
    let options = CriOptions {
        image: args.image.clone(),
        state_dir: args.node_dir.with_file_name("cri"),
        sends_node_userns_mode: !args.legacy_kubelet,
        ..CriOptions::default()
    };
    connect_socket(&socket, options).await
}

pub async fn connect_socket(
    socket: &str,
    options: CriOptions,
) -> Result<Box<dyn Target>, TargetError> {
    Ok(Box::new(CriTarget::connect(socket, options).await?))
}

fn node_subids(path: &str) -> Option<BTreeMap<String, Vec<crate::facts::SubIdRange>>> {
    match std::fs::read_to_string(path) {
        Ok(text) => subid::parse(&text).ok(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(BTreeMap::new()),
        Err(_) => None,
    }
}

fn status_message(s: &tonic::Status) -> String {
    if s.message().is_empty() {
        format!("{:?}", s.code())
    } else {
        s.message().to_string()
    }
}

impl CriTarget {
    pub async fn connect(socket: &str, options: CriOptions) -> Result<CriTarget, TargetError> {
        let mut client = client::connect(socket)
            .await
            .map_err(TargetError::Unusable)?;
        let req = proto::VersionRequest {
            version: "v1".into(),
        };
        match tokio::time::timeout(Duration::from_secs(10), client.version(req)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(TargetError::Unusable(format!(
                    "{socket} does not answer CRI v1 Version: {}",
                    status_message(&e)
                )))
            }
            Err(_) => {
                return Err(TargetError::Unusable(format!(
                    "{socket} did not answer CRI v1 Version within 10s"
                )))
            }
        }
        let subuids = node_subids("/etc/subuid");
        let kubelet = subuids
            .as_ref()
            .and_then(|m| m.get("kubelet"))
            .map(Vec::as_slice);
        let range = Range::kubelet_rule(kubelet, options.ids_per_pod, options.max_pods)
            .map_err(TargetError::Unusable)?;
        let allocator = Allocator::new(&options.state_dir, range).map_err(TargetError::Unusable)?;
        Ok(CriTarget {
            socket: socket.to_string(),
            client,
            options,
            allocator,
            inflight: Mutex::default(),
            cancelled: Default::default(),
        })
    }

    fn client(&self) -> RuntimeServiceClient<Channel> {
        self.client.clone()
    }

    fn unreachable(&self, s: &tonic::Status) -> TargetError {
        TargetError::Scenario(format!(
            "runtime unreachable at {}: {}",
            self.socket,
            status_message(s)
        ))
    }

    async fn remove_sandbox(&self, id: &str) -> Result<(), String> {
        let mut c = self.client();
        c.stop_pod_sandbox(proto::StopPodSandboxRequest {
            pod_sandbox_id: id.into(),
        })
        .await
        .map_err(|e| status_message(&e))?;
        c.remove_pod_sandbox(proto::RemovePodSandboxRequest {
            pod_sandbox_id: id.into(),
        })
        .await
        .map_err(|e| status_message(&e))?;
        Ok(())
    }

    async fn list_sandboxes(
        &self,
        selector: HashMap<String, String>,
    ) -> Result<Vec<proto::PodSandbox>, TargetError> {
        let req = proto::ListPodSandboxRequest {
            filter: Some(proto::PodSandboxFilter {
                id: String::new(),
                label_selector: selector,
            }),
        };
        let resp = self.client().list_pod_sandbox(req).await.map_err(|e| {
            TargetError::Unusable(format!(
                "ListPodSandbox on {}: {}",
                self.socket,
                status_message(&e)
            ))
        })?;
        Ok(resp.into_inner().items)
    }

    /// Ids of sandboxes of one run still present on the runtime.
    pub async fn sandboxes_of_run(&self, run_id: &str) -> Result<Vec<String>, TargetError> {
        Ok(self
            .list_sandboxes(HashMap::from([(
                labels::RUN.to_string(),
                labels::value(run_id),
            )]))
            .await?
            .into_iter()
            .map(|s| s.id)
            .collect())
    }

    async fn exec(&self, container: &str, cmd: Vec<String>) -> Result<ExecResult, tonic::Status> {
        let req = proto::ExecSyncRequest {
            container_id: container.into(),
            cmd: cmd.clone(),
            timeout: 10,
        };
        let r = self.client().exec_sync(req).await?.into_inner();
        Ok(ExecResult {
            command: cmd,
            exit_code: r.exit_code,
            stdout: String::from_utf8_lossy(&r.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&r.stderr).into_owned(),
        })
    }

    /// Runs one pod; sandboxes made are recorded in `made` for removal.
    async fn run_pod(
        &self,
        scenario: &Scenario,
        index: usize,
        plan: &ExecPlan,
        made: &mut Vec<String>,
        slots: &mut Vec<Allocation>,
    ) -> Result<PodObservation, TargetError> {
        let started = Instant::now();
        let case = &scenario.spec.pods[index];
        let pod: Pod = crate::scenario::load::materialize_pod(&case.pod, &plan.templates)
            .map_err(TargetError::Scenario)?;
        let name = pod.metadata.name.clone().unwrap_or_default();
        let unsupported = translate::unsupported_fields(&pod);
        if !unsupported.is_empty() {
            return Err(TargetError::Scenario(format!("pod {name}: {}: not supported by the cri target (it has no API server, volumes or kubelet plugins)", unsupported.join(", "))));
        }
        let mut obs = PodObservation {
            name: name.clone(),
            ..PodObservation::default()
        };
        let invalid = translate::validation_errors(&pod);
        if !invalid.is_empty() {
            obs.admission = Admission::Refused {
                code: Some(422),
                message: format!("Pod \"{name}\" is invalid: {}", invalid.join(", ")),
            };
            obs.outcome = Outcome::NotCreated;
            return Ok(obs);
        }
        let spec = pod.spec.clone().unwrap_or_default();
        let userns = if spec.host_users == Some(false) {
            let a = self
                .allocator
                .allocate(&format!("{}/{name}", plan.run_id))
                .map_err(TargetError::Scenario)?;
            let u = Userns::Pod {
                base: a.base,
                length: a.length,
            };
            slots.push(a);
            u
        } else if self.options.sends_node_userns_mode {
            Userns::Node
        } else {
            Userns::Unset
        };
        let uid = format!(
            "{}-{}",
            plan.run_id,
            POD_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let log_dir = self.options.state_dir.join("logs").join(&uid);
        let _ = std::fs::create_dir_all(&log_dir);
        let labels: HashMap<String, String> = labels::for_scenario(&plan.run_id, &scenario.id)
            .into_iter()
            .collect();
        let sandbox =
            translate::sandbox_config(&pod, &uid, &labels, userns, &log_dir.display().to_string());
        if self.cancelled.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(TargetError::Cancelled);
        }
        let run = self
            .client()
            .run_pod_sandbox(proto::RunPodSandboxRequest {
                config: Some(sandbox.clone()),
                runtime_handler: String::new(),
            })
            .await;
        let sandbox_id = match run {
            Ok(r) => r.into_inner().pod_sandbox_id,
            Err(e) if client::is_unreachable(&e) => return Err(self.unreachable(&e)),
            Err(e) => {
                let message = status_message(&e);
                obs.events.push(Event {
                    kind: "Warning".into(),
                    reason: "FailedCreatePodSandBox".into(),
                    message: format!("Failed to create pod sandbox: {message}"),
                });
                obs.outcome = Outcome::SandboxFailed {
                    reason: "FailedCreatePodSandBox".into(),
                    message,
                };
                obs.duration_ms = started.elapsed().as_millis() as u64;
                return Ok(obs);
            }
        };
        made.push(sandbox_id.clone());
        self.inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(sandbox_id.clone(), plan.run_id.clone());
        obs.id = Some(sandbox_id.clone());
        let psc = spec.security_context.clone().unwrap_or_default();
        let mut container_ids = Vec::new();
        for c in &spec.containers {
            let fail = |obs: &mut PodObservation, reason: &str, message: String| {
                obs.events.push(Event {
                    kind: "Warning".into(),
                    reason: "Failed".into(),
                    message: format!("Error: {message}"),
                });
                obs.outcome = Outcome::ContainerWaiting {
                    container: c.name.clone(),
                    reason: reason.into(),
                    message,
                };
            };
            if let Some(m) = translate::run_as_non_root_error(c, &psc) {
                fail(&mut obs, "CreateContainerConfigError", m);
                break;
            }
            let config = translate::container_config(&pod, c, &labels, userns);
            let req = proto::CreateContainerRequest {
                pod_sandbox_id: sandbox_id.clone(),
                config: Some(config),
                sandbox_config: Some(sandbox.clone()),
            };
            let id = match self.client().create_container(req).await {
                Ok(r) => r.into_inner().container_id,
                Err(e) if client::is_unreachable(&e) => return Err(self.unreachable(&e)),
                Err(e) => {
                    fail(&mut obs, "CreateContainerError", status_message(&e));
                    break;
                }
            };
            match self
                .client()
                .start_container(proto::StartContainerRequest {
                    container_id: id.clone(),
                })
                .await
            {
                Ok(_) => container_ids.push((c.name.clone(), id)),
                Err(e) if client::is_unreachable(&e) => return Err(self.unreachable(&e)),
                Err(e) => {
                    fail(&mut obs, "RunContainerError", status_message(&e));
                    break;
                }
            }
        }
        if matches!(obs.outcome, Outcome::NotCreated) {
            obs.outcome = self.wait_running(&container_ids, plan.timeout).await?;
        }
        let probe_plan = plan.probes.get(index).cloned().unwrap_or_default();
        let target = match &probe_plan.container {
            Some(n) => container_ids.iter().find(|(name, _)| name == n),
            None => container_ids.first(),
        };
        if let (Outcome::Running, Some((cname, cid))) = (&obs.outcome, target) {
            obs.inside = crate::target::probe::read(cname, &probe_plan, |cmd| self.exec(cid, cmd))
                .await
                .map_err(|e| {
                    if client::is_unreachable(&e) {
                        self.unreachable(&e)
                    } else {
                        TargetError::Scenario(format!("exec in {cname}: {}", status_message(&e)))
                    }
                })?;
            let req = proto::ContainerStatusRequest {
                container_id: cid.clone(),
                verbose: true,
            };
            if let Ok(s) = self.client().container_status(req).await {
                if let Some(pid) = host::pid_from_info(&s.into_inner().info) {
                    obs.host = Some(host::read(pid));
                }
            }
        }
        obs.duration_ms = started.elapsed().as_millis() as u64;
        Ok(obs)
    }

    /// Waits until every container runs, or one has exited.
    async fn wait_running(
        &self,
        containers: &[(String, String)],
        timeout: Duration,
    ) -> Result<Outcome, TargetError> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut all_running = true;
            for (name, id) in containers {
                let s = match self
                    .client()
                    .container_status(proto::ContainerStatusRequest {
                        container_id: id.clone(),
                        verbose: false,
                    })
                    .await
                {
                    Ok(s) => s.into_inner().status.unwrap_or_default(),
                    Err(e) if client::is_unreachable(&e) => return Err(self.unreachable(&e)),
                    Err(e) => {
                        return Err(TargetError::Scenario(format!(
                            "ContainerStatus of {name}: {}",
                            status_message(&e)
                        )))
                    }
                };
                match proto::ContainerState::try_from(s.state) {
                    Ok(proto::ContainerState::ContainerRunning) => {}
                    Ok(proto::ContainerState::ContainerExited) => {
                        return Ok(Outcome::ContainerTerminated {
                            container: name.clone(),
                            exit_code: s.exit_code,
                            reason: s.reason,
                            message: s.message,
                        })
                    }
                    _ => all_running = false,
                }
            }
            if all_running {
                return Ok(Outcome::Running);
            }
            if Instant::now() >= deadline {
                return Ok(Outcome::Pending {
                    reason: Some("ContainerCreating".into()),
                    message: Some(format!(
                        "not running after {}",
                        humantime::format_duration(timeout)
                    )),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[async_trait]
impl Target for CriTarget {
    fn kind(&self) -> TargetKind {
        self.options.kind
    }

    async fn facts(&self) -> Result<Facts, TargetError> {
        let mut c = self.client();
        let v = c
            .version(proto::VersionRequest {
                version: "v1".into(),
            })
            .await
            .map_err(|e| {
                TargetError::Unusable(format!(
                    "Version on {}: {}",
                    self.socket,
                    status_message(&e)
                ))
            })?
            .into_inner();
        let status = c
            .status(proto::StatusRequest { verbose: false })
            .await
            .map_err(|e| {
                TargetError::Unusable(format!("Status on {}: {}", self.socket, status_message(&e)))
            })?
            .into_inner();
        let handlers = status
            .runtime_handlers
            .iter()
            .map(|h| {
                let f = h.features.clone().unwrap_or_default();
                (
                    h.name.clone(),
                    HandlerFeatures {
                        user_namespaces: f.user_namespaces,
                        recursive_read_only_mounts: f.recursive_read_only_mounts,
                    },
                )
            })
            .collect();
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_string());
        Ok(Facts {
            target: self.options.kind,
            endpoint: self.socket.clone(),
            runtime: Some(RuntimeFacts {
                name: RuntimeName::from_reported(&v.runtime_name),
                version: Version::parse(&v.runtime_version),
                reported_name: v.runtime_name,
                reported_version: v.runtime_version,
                handlers,
            }),
            kubernetes: None,
            openshift: None,
            feature_gates: BTreeMap::new(),
            nodes: vec![NodeFacts {
                name: std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|s| s.trim().to_string()),
                kernel,
                subuids: node_subids("/etc/subuid"),
                subgids: node_subids("/etc/subgid"),
            }],
            sends_node_userns_mode: Some(self.options.sends_node_userns_mode),
        })
    }

    fn templates(&self, facts: &Facts) -> Templates {
        let mut t = Templates::new();
        t.insert(
            "image.busybox".into(),
            self.options
                .image
                .clone()
                .unwrap_or_else(|| DEFAULT_IMAGE.into()),
        );
        t.insert("image.pause".into(), PAUSE_IMAGE.into());
        t.insert(
            "node.idsPerPod".into(),
            self.allocator.range().ids_per_pod.to_string(),
        );
        if let Some(r) = &facts.runtime {
            t.insert("runtime.name".into(), r.reported_name.clone());
            t.insert("runtime.version".into(), r.reported_version.clone());
        }
        let node = facts.nodes.first();
        if let Some(r) = node
            .and_then(|n| n.subuids.as_ref())
            .and_then(|m| m.get("containers"))
            .and_then(|v| v.first())
        {
            t.insert("subuid.containers.start".into(), r.start.to_string());
            t.insert("subuid.containers.count".into(), r.count.to_string());
        }
        if let Some(r) = node
            .and_then(|n| n.subgids.as_ref())
            .and_then(|m| m.get("containers"))
            .and_then(|v| v.first())
        {
            t.insert("subgid.containers.start".into(), r.start.to_string());
        }
        t
    }

    async fn execute(
        &self,
        scenario: &Scenario,
        plan: &ExecPlan,
    ) -> Result<Observation, TargetError> {
        let mut made = Vec::new();
        let mut slots = Vec::new();
        let mut observation = Observation::default();
        let mut result = Ok(());
        for i in 0..scenario.spec.pods.len() {
            match self.run_pod(scenario, i, plan, &mut made, &mut slots).await {
                Ok(p) => observation.pods.push(p),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        // Everything made is removed, also after an error; removal failures
        // are reported, never swallowed.
        let mut leftovers = Vec::new();
        for id in &made {
            if let Err(e) = self.remove_sandbox(id).await {
                leftovers.push(format!("{id}: {e}"));
            }
            self.inflight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(id);
        }
        for a in &slots {
            let _ = self.allocator.release(a);
        }
        for p in &observation.pods {
            if let Some(id) = &p.id {
                observation.notes.push(format!(
                    "pod {} ran as sandbox {id} on {}",
                    p.name, self.socket
                ));
            }
        }
        result?;
        if !leftovers.is_empty() {
            return Err(TargetError::Scenario(format!(
                "could not remove sandboxes: {}",
                leftovers.join("; ")
            )));
        }
        Ok(observation)
    }

    async fn cleanup(&self) -> Result<Vec<String>, TargetError> {
        let items = self
            .list_sandboxes(HashMap::from([(
                labels::MANAGED.to_string(),
                "true".to_string(),
            )]))
            .await?;
        let mut out = Vec::new();
        for s in items {
            let name = s.metadata.map(|m| m.name).unwrap_or_default();
            self.remove_sandbox(&s.id).await.map_err(|e| {
                TargetError::Scenario(format!("removing sandbox {} ({name}): {e}", s.id))
            })?;
            out.push(format!(
                "sandbox {} ({name}, run {})",
                s.id,
                s.labels.get(labels::RUN).cloned().unwrap_or_default()
            ));
        }
        Ok(out)
    }

    async fn cancel_run(&self, run_id: &str) -> Vec<String> {
        self.cancelled
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let mut out = Vec::new();
        // A RunPodSandbox already in flight lands after the first listing:
        // look again until a listing comes back empty.
        for _ in 0..5 {
            let ids: Vec<String> = match self.sandboxes_of_run(run_id).await {
                Ok(ids) => ids,
                Err(_) => self
                    .inflight
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .keys()
                    .cloned()
                    .collect(),
            };
            if ids.is_empty() {
                break;
            }
            for id in ids {
                match self.remove_sandbox(&id).await {
                    Ok(()) => out.push(format!("removed sandbox {id}")),
                    Err(e) => out.push(format!("could not remove sandbox {id}: {e}")),
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        out
    }
}
