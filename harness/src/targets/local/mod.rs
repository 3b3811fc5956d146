//! The `local` target: a containerd + runc node the harness provisions from
//! Debian packages and starts itself (`clusters/local/node.sh`, embedded in
//! the binary so an installed `userns-e2e` works anywhere), driven through
//! the `cri` target.

use std::path::{Path, PathBuf};

use crate::facts::TargetKind;
use crate::targets::cri::{self, CriOptions};
use crate::targets::{Target, TargetError};

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("the local node needs root (it runs containerd and makes user namespaces); run as root or use --target cri/kube")]
    NotRoot,
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run {}", script.display())]
    Spawn {
        script: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("local node {command} failed in {}:\n{tail}", dir.display())]
    Failed {
        command: String,
        dir: PathBuf,
        tail: String,
    },
    #[error("node start printed no socket: {0}")]
    NoSocket(String),
}

/// Options of the `local` target.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// State folder of the node.
    pub node_dir: PathBuf,
    /// Test image instead of the node's busybox.
    pub image: Option<String>,
}

const NODE_SH: &str = include_str!("../../../../clusters/local/node.sh");
const MKIMAGES_SH: &str = include_str!("../../../../clusters/local/mkimages.sh");

/// What `node.sh status` reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeStatus {
    pub running: bool,
    pub pid: Option<u32>,
    pub socket: String,
    pub containerd: Option<String>,
    pub runc: Option<String>,
    pub bridge: Option<String>,
}

pub struct Node {
    dir: PathBuf,
}

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| cri::host::effective_id(&s, "Uid:"))
        == Some(0)
}

impl Node {
    pub fn new(dir: &Path) -> Node {
        Node {
            dir: dir.to_path_buf(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the embedded scripts under DIR/scripts (only when they changed).
    fn scripts(&self) -> Result<PathBuf, NodeError> {
        let d = self.dir.join("scripts");
        std::fs::create_dir_all(&d).map_err(|source| NodeError::Write {
            path: d.clone(),
            source,
        })?;
        for (name, text) in [("node.sh", NODE_SH), ("mkimages.sh", MKIMAGES_SH)] {
            let p = d.join(name);
            if std::fs::read_to_string(&p).ok().as_deref() != Some(text) {
                std::fs::write(&p, text).map_err(|source| NodeError::Write {
                    path: p.clone(),
                    source,
                })?;
            }
        }
        Ok(d.join("node.sh"))
    }

    fn script(&self, command: &str) -> Result<String, NodeError> {
        if !is_root() {
            return Err(NodeError::NotRoot);
        }
        let script = self.scripts()?;
        let out = duct::cmd(
            "bash",
            [script.as_os_str(), command.as_ref(), self.dir.as_os_str()],
        )
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|source| NodeError::Spawn {
            script: script.clone(),
            source,
        })?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() && command != "status" {
            let lines: Vec<&str> = stderr.lines().collect();
            let tail = lines[lines.len().saturating_sub(15)..].join("\n");
            return Err(NodeError::Failed {
                command: command.to_string(),
                dir: self.dir.clone(),
                tail,
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Installs and downloads what the node needs (cached; a no-op when done).
    pub fn provision(&self) -> Result<(), NodeError> {
        self.script("provision").map(|_| ())
    }

    /// Starts the node (provisioning first when needed); returns the CRI socket.
    pub fn start(&self) -> Result<String, NodeError> {
        let out = self.script("start")?;
        out.lines()
            .last()
            .map(|s| s.trim().to_string())
            .filter(|s| s.starts_with("unix://"))
            .ok_or(NodeError::NoSocket(out))
    }

    /// Stops containers, containerd and shims, and removes mounts, network
    /// namespaces and the bridge of this node.
    pub fn stop(&self) -> Result<(), NodeError> {
        self.script("stop").map(|_| ())
    }

    pub fn status(&self) -> Result<NodeStatus, NodeError> {
        let out = self.script("status")?;
        let get = |k: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .map(str::to_string)
        };
        Ok(NodeStatus {
            running: get("state").as_deref() == Some("running"),
            pid: get("pid").and_then(|p| p.parse().ok()),
            socket: get("socket").unwrap_or_default(),
            containerd: get("containerd"),
            runc: get("runc"),
            bridge: get("bridge"),
        })
    }
}

/// Provisions and starts the node, then connects the cri target to it.
pub async fn connect(options: &LocalOptions) -> Result<Box<dyn Target>, TargetError> {
    let node = Node::new(&options.node_dir);
    if !is_root() {
        return Err(TargetError::unusable_by(
            "the local node",
            NodeError::NotRoot,
        ));
    }
    if !node.dir.join(".provisioned").exists() {
        eprintln!(
            "provisioning the local node in {} (containerd and runc from Debian packages; once) …",
            node.dir.display()
        );
    }
    let dir = node.dir.clone();
    let socket = tokio::task::spawn_blocking(move || Node::new(&dir).start())
        .await
        .map_err(|e| TargetError::unusable_by("starting the local node", e))?
        .map_err(|e| TargetError::unusable_by("starting the local node", e))?;
    eprintln!("local node running at {socket}");
    let cri = CriOptions {
        state_dir: options.node_dir.join("cri"),
        image: options.image.clone(),
        kind: TargetKind::Local,
        ..CriOptions::default()
    };
    cri::connect_socket(&socket, cri).await
}

/// Stops the local node after a run (called unless `--keep-node`).
pub fn stop_after_run(node_dir: &Path) {
    let node = Node::new(node_dir);
    if !node.dir.join("containerd.pid").exists() {
        return;
    }
    eprintln!("stopping the local node (--keep-node keeps it running)");
    if let Err(e) = node.stop() {
        eprintln!("warning: {}", crate::targets::chain(&e));
    }
}
