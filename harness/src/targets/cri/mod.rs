//! The `cri` target: a CRI runtime socket driven directly, doing what the
//! kubelet does for the parts that matter to user namespaces.

pub mod allocator;
pub mod client;
pub mod host;
pub mod proto;
pub mod runtime_view;
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
use crate::facts::{Facts, HandlerFeatures, NodeFacts, RuntimeFacts, RuntimeName, TargetKind};
use crate::observation::{Admission, Event, ExecResult, Observation, Outcome, PodObservation};
use crate::parse::subid;
use crate::plan::{ExecPlan, KubeletUserns};
use crate::scenario::Scenario;
use crate::targets::lifecycle::{self, PodPlatform};
use crate::targets::{labels, Executed, Target, TargetError};
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
    /// Where the allocator's range came from, for the facts.
    kubelet_ids_source: String,
    /// Sandboxes made and not yet removed, for Ctrl-C.
    inflight: Mutex<HashMap<String, String>>,
    /// Set by `cancel_run`: no new sandbox is started after Ctrl-C.
    cancelled: std::sync::atomic::AtomicBool,
}

pub async fn connect_socket(
    socket: &str,
    options: CriOptions,
) -> Result<Box<dyn Target>, TargetError> {
    Ok(Box::new(CriTarget::connect(socket, options).await?))
}

fn node_subids(
    path: impl AsRef<std::path::Path>,
) -> Option<BTreeMap<String, Vec<crate::facts::SubIdRange>>> {
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

/// A CRI call that failed, with the runtime's words.
#[derive(Debug, thiserror::Error)]
#[error("{call}: {}", status_message(.status))]
pub struct CallError {
    call: String,
    status: tonic::Status,
}

fn ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// One sandbox of a scenario, with what `close` needs to remove it.
#[derive(Debug, Clone)]
pub struct Sandbox {
    index: usize,
    id: String,
    containers: Vec<(String, String)>,
    /// Seconds StopContainer waits after SIGTERM: the pod's
    /// `terminationGracePeriodSeconds`, else 0 (see [`stop_grace`]).
    grace: i64,
}

/// What a scenario made on the runtime so far.
#[derive(Default)]
pub struct CriScope {
    sandboxes: Mutex<Vec<Sandbox>>,
    slots: Mutex<Vec<Allocation>>,
}

/// The kubelet stops each container with the pod's grace period before it
/// stops the sandbox; without that, CRI-O's StopPodSandbox waits for a PID 1
/// that ignores SIGTERM (`sleep`) for seconds. The harness has read all it
/// needs by then, so a pod that does not set a grace period gets 0, as with
/// `kubectl delete --grace-period=0`.
pub fn stop_grace(pod: &Pod) -> i64 {
    pod.spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(0)
        .max(0)
}

impl CriTarget {
    pub async fn connect(socket: &str, options: CriOptions) -> Result<CriTarget, TargetError> {
        let mut client = client::connect(socket)
            .await
            .map_err(|e| TargetError::unusable_by("the CRI runtime cannot be reached", e))?;
        let req = proto::VersionRequest {
            version: "v1".into(),
        };
        match tokio::time::timeout(Duration::from_secs(10), client.version(req)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(TargetError::unusable(format!(
                    "{socket} does not answer CRI v1 Version: {}",
                    status_message(&e)
                )))
            }
            Err(_) => {
                return Err(TargetError::unusable(format!(
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
            .map_err(|e| TargetError::unusable_by("the kubelet's user-namespace range", e))?;
        let kubelet_ids_source = match kubelet.and_then(|k| k.first()) {
            Some(r) => format!("/etc/subuid kubelet:{}:{}", r.start, r.count),
            None => "kubelet default without a kubelet entry in /etc/subuid: 65536 up to 2^32, slots at random (kubernetes pkg/kubelet/kubelet_getters.go getKubeletMappings)".to_string(),
        };
        let allocator = Allocator::new(&options.state_dir, range)
            .map_err(|e| TargetError::unusable_by("the user-namespace allocator", e))?;
        Ok(CriTarget {
            socket: socket.to_string(),
            client,
            options,
            allocator,
            kubelet_ids_source,
            inflight: Mutex::default(),
            cancelled: Default::default(),
        })
    }

    fn client(&self) -> RuntimeServiceClient<Channel> {
        self.client.clone()
    }

    fn unusable(&self, call: &str, status: tonic::Status) -> TargetError {
        TargetError::unusable_by(
            format!("the runtime at {}", self.socket),
            CallError {
                call: call.into(),
                status,
            },
        )
    }

    /// A failed call: the runtime is gone (target error), or it refused.
    fn call_error(&self, call: &str, status: tonic::Status) -> TargetError {
        let context = if client::is_unreachable(&status) {
            format!("runtime unreachable at {}", self.socket)
        } else {
            format!("on {}", self.socket)
        };
        TargetError::scenario_by(
            context,
            CallError {
                call: call.into(),
                status,
            },
        )
    }

    /// Stops the containers (with the grace), then stops and removes the
    /// sandbox, as the kubelet does; returns (stop ms, remove ms).
    async fn remove_sandbox(
        &self,
        id: &str,
        containers: &[String],
        grace: i64,
    ) -> Result<(u64, u64), CallError> {
        let mut c = self.client();
        let call = |call: &str| {
            let call = format!("{call} {id}");
            move |status| CallError { call, status }
        };
        let t = Instant::now();
        for cid in containers {
            let req = proto::StopContainerRequest {
                container_id: cid.clone(),
                timeout: grace,
            };
            // A container that already exited or was never started is fine.
            if let Err(status) = c.stop_container(req).await {
                if client::is_unreachable(&status) {
                    return Err(CallError {
                        call: format!("StopContainer {cid}"),
                        status,
                    });
                }
            }
        }
        c.stop_pod_sandbox(proto::StopPodSandboxRequest {
            pod_sandbox_id: id.into(),
        })
        .await
        .map_err(call("StopPodSandbox"))?;
        let stopped = ms(t);
        let t = Instant::now();
        c.remove_pod_sandbox(proto::RemovePodSandboxRequest {
            pod_sandbox_id: id.into(),
        })
        .await
        .map_err(call("RemovePodSandbox"))?;
        Ok((stopped, ms(t)))
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
        let resp = self
            .client()
            .list_pod_sandbox(req)
            .await
            .map_err(|status| {
                TargetError::unusable_by(
                    format!("listing sandboxes on {}", self.socket),
                    CallError {
                        call: "ListPodSandbox".into(),
                        status,
                    },
                )
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

    /// Container ids of a sandbox, for removal of sandboxes found by label.
    async fn containers_of(&self, sandbox: &str) -> Vec<String> {
        let req = proto::ListContainersRequest {
            filter: Some(proto::ContainerFilter {
                pod_sandbox_id: sandbox.into(),
                ..Default::default()
            }),
        };
        match self.client().list_containers(req).await {
            Ok(r) => r
                .into_inner()
                .containers
                .into_iter()
                .map(|c| c.id)
                .collect(),
            Err(_) => Vec::new(),
        }
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
                let req = proto::ContainerStatusRequest {
                    container_id: id.clone(),
                    verbose: false,
                };
                let s = self
                    .client()
                    .container_status(req)
                    .await
                    .map_err(|e| self.call_error(&format!("ContainerStatus of {name}"), e))?
                    .into_inner()
                    .status
                    .unwrap_or_default();
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
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The user-namespace options the kubelet of this scenario sends.
    fn userns_for(
        &self,
        pod: &Pod,
        plan: &ExecPlan,
        scope: &CriScope,
    ) -> Result<Userns, TargetError> {
        let host_users = pod.spec.as_ref().and_then(|s| s.host_users);
        Ok(match plan.kubelet {
            // With the gate off the API server drops `hostUsers`, and the
            // kubelet sends nothing: CRI-O then reads its annotation.
            KubeletUserns::GateOff => Userns::Unset,
            KubeletUserns::GateOn if host_users == Some(false) => {
                let name = pod.metadata.name.clone().unwrap_or_default();
                let a = self
                    .allocator
                    .allocate(&format!("{}/{name}", plan.run_id))
                    .map_err(|e| TargetError::scenario_by("allocating a user namespace", e))?;
                let u = Userns::Pod {
                    base: a.base,
                    length: a.length,
                };
                lock(&scope.slots).push(a);
                u
            }
            KubeletUserns::GateOn => Userns::Node,
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Records a failed container step the way the kubelet reports it.
fn container_failed(obs: &mut PodObservation, container: &str, reason: &str, message: String) {
    obs.events.push(Event {
        kind: "Warning".into(),
        reason: "Failed".into(),
        message: format!("Error: {message}"),
    });
    obs.outcome = Outcome::ContainerWaiting {
        container: container.into(),
        reason: reason.into(),
        message,
    };
}

/// A created sandbox: its id and its started containers (name, id).
pub struct CriPod {
    sandbox: String,
    containers: Vec<(String, String)>,
    /// Set when a container step failed: the outcome is already known.
    settled: bool,
}

#[async_trait]
impl PodPlatform for CriTarget {
    type Scope = CriScope;
    type Handle = CriPod;

    async fn open(&self, _: &Scenario, _: &ExecPlan) -> Result<CriScope, TargetError> {
        Ok(CriScope::default())
    }

    async fn prepare(
        &self,
        _: &CriScope,
        _: &Scenario,
        plan: &ExecPlan,
        observation: &mut Observation,
    ) -> Result<Templates, TargetError> {
        if plan.kubelet == KubeletUserns::GateOff {
            observation.notes.push(
                "kubelet played with UserNamespacesSupport off: no user-namespace options sent"
                    .into(),
            );
        }
        Ok(plan.templates.clone())
    }

    async fn create(
        &self,
        scope: &CriScope,
        scenario: &Scenario,
        plan: &ExecPlan,
        index: usize,
        pod: &Pod,
        obs: &mut PodObservation,
    ) -> Result<Option<CriPod>, TargetError> {
        let name = obs.name.clone();
        let unsupported = translate::unsupported_fields(pod);
        if !unsupported.is_empty() {
            return Err(TargetError::scenario(format!("pod {name}: {}: not supported by the cri target (it has no API server, volumes or kubelet plugins)", unsupported.join(", "))));
        }
        let invalid = translate::validation_errors(pod);
        if !invalid.is_empty() {
            obs.admission = Admission::Refused {
                code: Some(422),
                message: format!("Pod \"{name}\" is invalid: {}", invalid.join(", ")),
            };
            obs.outcome = Outcome::NotCreated;
            return Ok(None);
        }
        let spec = pod.spec.clone().unwrap_or_default();
        let userns = self.userns_for(pod, plan, scope)?;
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
            translate::sandbox_config(pod, &uid, &labels, userns, &log_dir.display().to_string());
        if self.cancelled.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(TargetError::Cancelled);
        }
        let t = Instant::now();
        let run = self
            .client()
            .run_pod_sandbox(proto::RunPodSandboxRequest {
                config: Some(sandbox.clone()),
                // The kubelet sends a RuntimeClass's handler; without an API
                // server the class name is taken as the handler's.
                runtime_handler: spec.runtime_class_name.clone().unwrap_or_default(),
            })
            .await;
        obs.phases_ms.insert("sandbox".into(), ms(t));
        let sandbox_id = match run {
            Ok(r) => r.into_inner().pod_sandbox_id,
            Err(e) if client::is_unreachable(&e) => return Err(self.call_error("RunPodSandbox", e)),
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
                return Ok(None);
            }
        };
        let record = Sandbox {
            index,
            id: sandbox_id.clone(),
            containers: Vec::new(),
            grace: stop_grace(pod),
        };
        lock(&scope.sandboxes).push(record);
        lock(&self.inflight).insert(sandbox_id.clone(), plan.run_id.clone());
        obs.id = Some(sandbox_id.clone());
        let psc = spec.security_context.clone().unwrap_or_default();
        let mut made = CriPod {
            sandbox: sandbox_id.clone(),
            containers: Vec::new(),
            settled: false,
        };
        let (mut create_ms, mut start_ms) = (0, 0);
        for c in &spec.containers {
            if let Some(m) = translate::run_as_non_root_error(c, &psc) {
                container_failed(obs, &c.name, "CreateContainerConfigError", m);
                made.settled = true;
                break;
            }
            let config = translate::container_config(pod, c, &labels, userns);
            let req = proto::CreateContainerRequest {
                pod_sandbox_id: sandbox_id.clone(),
                config: Some(config),
                sandbox_config: Some(sandbox.clone()),
            };
            let t = Instant::now();
            let created = self.client().create_container(req).await;
            create_ms += ms(t);
            let id = match created {
                Ok(r) => r.into_inner().container_id,
                Err(e) if client::is_unreachable(&e) => {
                    return Err(self.call_error("CreateContainer", e))
                }
                Err(e) => {
                    container_failed(obs, &c.name, "CreateContainerError", status_message(&e));
                    made.settled = true;
                    break;
                }
            };
            if let Some(s) = lock(&scope.sandboxes)
                .iter_mut()
                .find(|s| s.id == sandbox_id)
            {
                s.containers.push((c.name.clone(), id.clone()));
            }
            let t = Instant::now();
            let started = self
                .client()
                .start_container(proto::StartContainerRequest {
                    container_id: id.clone(),
                })
                .await;
            start_ms += ms(t);
            match started {
                Ok(_) => made.containers.push((c.name.clone(), id)),
                Err(e) if client::is_unreachable(&e) => {
                    return Err(self.call_error("StartContainer", e))
                }
                Err(e) => {
                    container_failed(obs, &c.name, "RunContainerError", status_message(&e));
                    made.settled = true;
                    break;
                }
            }
        }
        obs.phases_ms.insert("create".into(), create_ms);
        obs.phases_ms.insert("start".into(), start_ms);
        Ok(Some(made))
    }

    async fn settle(
        &self,
        _: &CriScope,
        pod: &CriPod,
        timeout: Duration,
        obs: &mut PodObservation,
    ) -> Result<(), TargetError> {
        if !pod.settled {
            obs.outcome = self.wait_running(&pod.containers, timeout).await?;
        }
        Ok(())
    }

    async fn exec(
        &self,
        _: &CriScope,
        pod: &CriPod,
        container: &str,
        cmd: Vec<String>,
    ) -> Result<ExecResult, TargetError> {
        let Some((_, id)) = pod.containers.iter().find(|(n, _)| n == container) else {
            return Err(TargetError::scenario(format!(
                "no running container {container} in sandbox {}",
                pod.sandbox
            )));
        };
        let req = proto::ExecSyncRequest {
            container_id: id.clone(),
            cmd: cmd.clone(),
            timeout: 10,
        };
        let r = self
            .client()
            .exec_sync(req)
            .await
            .map_err(|e| self.call_error(&format!("ExecSync in {container}"), e))?
            .into_inner();
        Ok(ExecResult {
            command: cmd,
            exit_code: r.exit_code,
            stdout: String::from_utf8_lossy(&r.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&r.stderr).into_owned(),
        })
    }

    async fn host_view(
        &self,
        _: &CriScope,
        pod: &CriPod,
        container: &str,
    ) -> Option<Result<crate::observation::HostView, TargetError>> {
        let (_, id) = pod.containers.iter().find(|(n, _)| n == container)?;
        let req = proto::ContainerStatusRequest {
            container_id: id.clone(),
            verbose: true,
        };
        let info = match self.client().container_status(req).await {
            Ok(s) => s.into_inner().info,
            Err(e) => return Some(Err(self.call_error("ContainerStatus", e))),
        };
        let pid = host::pid_from_info(&info)?;
        Some(Ok(host::read(pid)))
    }

    async fn close(&self, scope: CriScope, observation: &mut Observation) -> Vec<String> {
        let sandboxes = std::mem::take(&mut *lock(&scope.sandboxes));
        let mut leftovers = Vec::new();
        for s in &sandboxes {
            let ids: Vec<String> = s.containers.iter().map(|(_, id)| id.clone()).collect();
            match self.remove_sandbox(&s.id, &ids, s.grace).await {
                Ok((stop, remove)) => {
                    lock(&self.inflight).remove(&s.id);
                    if let Some(p) = observation.pods.get_mut(s.index) {
                        p.phases_ms.insert("stop".into(), stop);
                        p.phases_ms.insert("remove".into(), remove);
                    }
                }
                Err(e) => leftovers.push(format!("sandbox {}: {e}", s.id)),
            }
        }
        for a in lock(&scope.slots).iter() {
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
        leftovers
    }

    fn describe(&self, scope: &CriScope) -> String {
        let ids: Vec<String> = lock(&scope.sandboxes)
            .iter()
            .map(|s| s.id.clone())
            .collect();
        if ids.is_empty() {
            format!("the scenario's sandboxes on {}", self.socket)
        } else {
            format!("sandboxes {} on {}", ids.join(", "), self.socket)
        }
    }
}

#[async_trait]
impl Target for CriTarget {
    async fn facts(&self) -> Result<Facts, TargetError> {
        let mut c = self.client();
        let v = c
            .version(proto::VersionRequest {
                version: "v1".into(),
            })
            .await
            .map_err(|status| self.unusable("Version", status))?
            .into_inner();
        let status = c
            .status(proto::StatusRequest { verbose: false })
            .await
            .map_err(|status| self.unusable("Status", status))?
            .into_inner();
        let handlers = status
            .runtime_handlers
            .iter()
            .map(|h| {
                let f = h.features.unwrap_or_default();
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
        // Subordinate ids as the runtime process sees them (its mount
        // namespace may show another /etc/subuid than ours).
        let path = client::socket_path(&self.socket);
        let pid = runtime_view::serving_pid(&path).await;
        let name = RuntimeName::from_reported(&v.runtime_name);
        let mut unreadable = Vec::new();
        let config = match name {
            Some(RuntimeName::CriO) => match runtime_view::crio_config(&path).await {
                Ok(c) => Some(c),
                Err(e) => {
                    unreadable.push(format!("runtime config: {}", crate::targets::chain(&e)));
                    None
                }
            },
            _ => None,
        };
        Ok(Facts {
            target: self.options.kind,
            endpoint: self.socket.clone(),
            runtime: Some(RuntimeFacts {
                name,
                version: Version::parse(&v.runtime_version),
                reported_name: v.runtime_name,
                reported_version: v.runtime_version,
                handlers,
                config,
            }),
            kubernetes: None,
            openshift: None,
            feature_gates: BTreeMap::from([(crate::facts::USERNS_GATE.to_string(), true)]),
            gate_sources: BTreeMap::from([(
                crate::facts::USERNS_GATE.to_string(),
                "the harness's own kubelet (per scenario: sendsNodeUsernsMode)".to_string(),
            )]),
            host_view: true,
            nodes: vec![NodeFacts {
                name: std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|s| s.trim().to_string()),
                kernel,
                subuids: node_subids(runtime_view::seen_by(pid, "etc/subuid")),
                subgids: node_subids(runtime_view::seen_by(pid, "etc/subgid")),
                // The emulated kubelet keeps the default (doctor assumes 110).
                max_pods: None,
            }],
            // The harness plays a kubelet with UserNamespacesSupport on (the
            // default since Kubernetes 1.33) unless a scenario asks otherwise.
            sends_node_userns_mode: Some(true),
            kubelet_emulated: true,
            kubelet_ids: {
                let r = self.allocator.range();
                Some(crate::facts::KubeletIdRange {
                    first: r.first,
                    count: r.count,
                    ids_per_pod: r.ids_per_pod,
                    source: self.kubelet_ids_source.clone(),
                })
            },
            unreadable,
        })
    }

    fn templates(&self, facts: &Facts) -> Templates {
        let image = self.options.image.as_deref().unwrap_or(DEFAULT_IMAGE);
        let ids = self.allocator.range().ids_per_pod;
        crate::templates::run_values(image, PAUSE_IMAGE, ids, facts)
    }

    async fn execute(&self, scenario: &Scenario, plan: &ExecPlan) -> Executed {
        lifecycle::execute(self, scenario, plan, plan.budget).await
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
            let containers = self.containers_of(&s.id).await;
            self.remove_sandbox(&s.id, &containers, 0)
                .await
                .map_err(|e| {
                    TargetError::scenario_by(format!("removing sandbox {} ({name})", s.id), e)
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
                Err(_) => lock(&self.inflight).keys().cloned().collect(),
            };
            if ids.is_empty() {
                break;
            }
            for id in ids {
                let containers = self.containers_of(&id).await;
                match self.remove_sandbox(&id, &containers, 0).await {
                    Ok(_) => out.push(format!("removed sandbox {id}")),
                    Err(e) => out.push(format!("could not remove sandbox {id}: {e}")),
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        out
    }
}
