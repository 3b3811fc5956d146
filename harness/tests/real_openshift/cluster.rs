//! MicroShift through `../shared/openshift/{start,stop}.sh`, and what it may
//! leave behind.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The host sysctls a kubelet rewrites (`start.sh` saves them, `stop.sh` restores them).
const SYSCTLS: &[&str] = &[
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
];

/// Paths MicroShift hard-codes; `start.sh` bind-mounts them inside its own
/// mount namespace only.
const HARD_CODED: &[&str] = &[
    "/var/lib/microshift",
    "/var/lib/microshift-backups",
    "/etc/microshift",
    "/var/lib/kubelet",
    "/run/crio",
    "/var/log/pods",
    "/var/log/containers",
    "/var/log/kube-apiserver",
];

pub struct MicroShift {
    pub scripts: PathBuf,
    pub tarball: PathBuf,
}

fn shared() -> PathBuf {
    std::env::var_os("USERNS_E2E_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| super::repo().join("../shared"))
}

/// MicroShift 5.0 (`shared/openshift`).
pub fn find() -> Option<MicroShift> {
    find_in("openshift")
}

/// MicroShift 4.19 (`shared/openshift-4.19`), started by 5.0's scripts.
pub fn find_4_19() -> Option<MicroShift> {
    find_in("openshift-4.19")
}

fn find_in(folder: &str) -> Option<MicroShift> {
    let shared = shared();
    let scripts = shared.join("openshift");
    let tarball = std::fs::read_dir(shared.join(folder))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("microshift-") && n.ends_with(".tar.xz"))
        })?;
    scripts
        .join("start.sh")
        .exists()
        .then_some(MicroShift { scripts, tarball })
}

/// The newest CRI-O build under the shared folder (`crio/v*/crio-v*-linux-amd64.tar.xz`).
pub fn newest_crio() -> Option<PathBuf> {
    crio_builds().pop()
}

/// The oldest one (OpenShift 4.19 ships CRI-O 1.32; the oldest shared build is closest).
pub fn oldest_crio() -> Option<PathBuf> {
    crio_builds().into_iter().next()
}

/// The CRI-O builds under the shared folder, oldest first.
fn crio_builds() -> Vec<PathBuf> {
    let shared = shared();
    let Ok(dir) = std::fs::read_dir(shared.join("crio")) else {
        return Vec::new();
    };
    let mut found: Vec<(userns_e2e::version::Version, PathBuf)> = dir
        .flatten()
        .filter_map(|e| {
            let tag = e.file_name().to_string_lossy().to_string();
            let v = userns_e2e::version::Version::parse(tag.trim_start_matches('v'))?;
            let t = e.path().join(format!("crio-{tag}-linux-amd64.tar.xz"));
            t.is_file().then_some((v, t))
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found.into_iter().map(|(_, t)| t).collect()
}

pub fn state_dir() -> PathBuf {
    std::env::var_os("USERNS_E2E_TEST_OPENSHIFT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/userns-e2e-test-openshift"))
}

pub fn sysctls() -> Vec<(String, String)> {
    SYSCTLS
        .iter()
        .map(|k| {
            let v = std::fs::read_to_string(format!("/proc/sys/{k}")).unwrap_or_default();
            (k.to_string(), v.trim().to_string())
        })
        .collect()
}

pub struct Cluster {
    scripts: PathBuf,
    state: PathBuf,
}

/// A process recorded at start, identified by pid and command line (a pid
/// reused by another program is not a leftover).
struct Recorded {
    pid: u32,
    cmdline: Vec<u8>,
}

fn cmdline(pid: u32) -> Option<Vec<u8>> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .filter(|c| !c.is_empty())
}

impl Cluster {
    pub fn start(ms: &MicroShift, state: &Path) -> Result<Cluster, String> {
        Self::start_with(ms, state, &[])
    }

    /// Starts MicroShift; `env` (CRIO_BIN, CRIO_RUNTIME, IMAGES, RUNTIME) adds
    /// its kubelet on a private CRI-O.
    pub fn start_with(
        ms: &MicroShift,
        state: &Path,
        env: &[(&str, PathBuf)],
    ) -> Result<Cluster, String> {
        Self::start_configured(ms, state, env, None)
    }

    /// As `start_with`; `kubelet_extra` is appended under `kubelet:` in
    /// MicroShift's config (start.sh reads `STATE/kubelet-extra.yaml`).
    pub fn start_configured(
        ms: &MicroShift,
        state: &Path,
        env: &[(&str, PathBuf)],
        kubelet_extra: Option<&str>,
    ) -> Result<Cluster, String> {
        let c = Cluster {
            scripts: ms.scripts.clone(),
            state: state.to_path_buf(),
        };
        // A previous run that died before its stop: stop it first (by its own pid files).
        if state.exists() {
            c.stop_script();
        }
        if let Some(extra) = kubelet_extra {
            std::fs::create_dir_all(state).map_err(|e| e.to_string())?;
            std::fs::write(state.join("kubelet-extra.yaml"), extra).map_err(|e| e.to_string())?;
        }
        let o = Command::new(ms.scripts.join("start.sh"))
            .arg(&ms.tarball)
            .arg(state)
            .env_remove("CRIO_BIN")
            .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
            .output()
            .map_err(|e| format!("start.sh: {e}"))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        if !o.status.success() {
            c.stop_script();
            return Err(format!("start.sh failed ({}): {text}", o.status));
        }
        eprintln!("real_openshift: {}", text.trim());
        Ok(c)
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.state.join("kubeconfig")
    }

    fn recorded(&self) -> Vec<Recorded> {
        let mut pids: Vec<u32> = ["microshift.pid", "ns.pid", "crio.pid"]
            .iter()
            .filter_map(|f| std::fs::read_to_string(self.state.join(f)).ok())
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        // microshift-etcd is microshift's child and outlives it unless stopped.
        let children: Vec<u32> = pids
            .iter()
            .flat_map(|p| {
                std::fs::read_to_string(format!("/proc/{p}/task/{p}/children"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .filter_map(|c| c.parse().ok())
                    .collect::<Vec<u32>>()
            })
            .collect();
        pids.extend(children);
        pids.into_iter()
            .filter_map(|pid| cmdline(pid).map(|cmdline| Recorded { pid, cmdline }))
            .collect()
    }

    fn stop_script(&self) {
        let _ = Command::new(self.scripts.join("stop.sh"))
            .arg(&self.state)
            .arg("--wipe")
            .status();
    }

    /// Stops MicroShift and wipes its state; returns what is left.
    pub fn stop(self) -> Vec<String> {
        let procs = self.recorded();
        let created: Vec<String> = std::fs::read_to_string(self.state.join("created-mountpoints"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        self.stop_script();
        let mut left = Vec::new();
        for p in procs {
            if cmdline(p.pid).as_deref() == Some(&p.cmdline[..]) {
                left.push(format!(
                    "process {} ({})",
                    p.pid,
                    String::from_utf8_lossy(&p.cmdline).replace('\0', " ")
                ));
            }
        }
        let state = self.state.display().to_string();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for m in mounts.lines().filter_map(|l| l.split(' ').nth(4)) {
            if m.starts_with(&state) || HARD_CODED.contains(&m) {
                left.push(format!("mount {m}"));
            }
        }
        for d in created {
            if Path::new(&d).exists() {
                left.push(format!("mount point folder {d} (created by start.sh)"));
            }
        }
        if Path::new("/sys/class/net/mshbr0").exists() {
            left.push("bridge mshbr0".into());
        }
        if self.state.exists() {
            left.push(format!("state folder {state}"));
        }
        left
    }

    /// A runtime for blocking test code and an admin client of this cluster.
    fn client(&self) -> Result<(tokio::runtime::Runtime, kube::Client), String> {
        let kc = self.kubeconfig();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let client = rt.block_on(async {
            let config = kube::Config::from_custom_kubeconfig(
                kube::config::Kubeconfig::read_from(&kc).map_err(|e| e.to_string())?,
                &Default::default(),
            )
            .await
            .map_err(|e| e.to_string())?;
            kube::Client::try_from(config).map_err(|e| e.to_string())
        })?;
        Ok((rt, client))
    }

    /// Waits until a node reports Ready (the kubelet registered and its CNI is up).
    pub fn wait_node_ready(&self, limit: std::time::Duration) -> Result<(), String> {
        use k8s_openapi::api::core::v1::Node;
        use kube::api::{Api, ListParams};
        let (rt, client) = self.client()?;
        rt.block_on(async {
            let nodes: Api<Node> = Api::all(client);
            let deadline = std::time::Instant::now() + limit;
            loop {
                let ready = nodes
                    .list(&ListParams::default())
                    .await
                    .ok()
                    .is_some_and(|l| {
                        l.items.iter().any(|n| {
                            n.status
                                .as_ref()
                                .and_then(|s| s.conditions.as_ref())
                                .is_some_and(|cs| {
                                    cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                                })
                        })
                    });
                if ready {
                    return Ok(());
                }
                if std::time::Instant::now() > deadline {
                    return Err(format!("no node Ready within {}s", limit.as_secs()));
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        })
    }

    /// A token of a fresh ServiceAccount (TokenRequest), for the credential test.
    pub fn service_account_token(&self) -> Result<String, String> {
        use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
        use k8s_openapi::api::core::v1::ServiceAccount;
        use kube::api::{Api, PostParams};
        let (rt, client) = self.client()?;
        rt.block_on(async move {
            let sas: Api<ServiceAccount> = Api::namespaced(client, "default");
            let name = "userns-e2e-report-check";
            let sa: ServiceAccount =
                serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))
                    .map_err(|e| e.to_string())?;
            match sas.create(&PostParams::default(), &sa).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(format!("creating ServiceAccount {name}: {e}")),
            }
            let req = TokenRequest {
                spec: Some(TokenRequestSpec {
                    expiration_seconds: Some(600),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let tr = sas
                .create_token_request(name, &PostParams::default(), &req)
                .await
                .map_err(|e| format!("TokenRequest for {name}: {e}"))?;
            tr.status
                .and_then(|s| s.token)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| "TokenRequest returned no token".to_string())
        })
    }
}

/// The admin kubeconfig with a `token:` added next to its client key (the
/// server authenticates the client certificate first; the token is sent too).
pub fn kubeconfig_with_token(admin: &Path, token: &str, dest: &Path) -> Result<PathBuf, String> {
    let text = std::fs::read_to_string(admin).map_err(|e| format!("{}: {e}", admin.display()))?;
    let mut out = String::new();
    let mut added = false;
    for line in text.lines() {
        out.push_str(line);
        out.push('\n');
        if let Some(indent) = line.strip_suffix(line.trim_start()) {
            if line.trim_start().starts_with("client-key-data:") && !added {
                out.push_str(&format!("{indent}token: {token}\n"));
                added = true;
            }
        }
    }
    if !added {
        return Err(format!("no client-key-data in {}", admin.display()));
    }
    std::fs::write(dest, out).map_err(|e| format!("{}: {e}", dest.display()))?;
    Ok(dest.to_path_buf())
}

pub fn client_key_data(kubeconfig: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(kubeconfig)
        .map_err(|e| format!("{}: {e}", kubeconfig.display()))?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("client-key-data:"))
        .map(|k| k.trim().to_string())
        .filter(|k| k.len() > 96)
        .ok_or_else(|| format!("no client-key-data in {}", kubeconfig.display()))
}
