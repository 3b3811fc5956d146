//! The `local` target: a node the harness provisions from Debian packages
//! and starts itself, driven through the `cri` target. Two flavours:
//! containerd + runc (`clusters/local/node.sh`), and a CRI-O the user gives
//! with conmon and runc from Debian (`clusters/local/crio.sh`, see [`crio`]).
//! The scripts are embedded in the binary so an installed `userns-e2e` works
//! anywhere.

pub mod bundle;
pub mod crio;
pub mod sharing;

use std::ffi::OsStr;
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
    /// The `crio` given cannot be used (missing, not executable, too old).
    #[error("{0}")]
    Crio(String),
    /// `--crio VERSION`: its release bundle could not be had.
    #[error(transparent)]
    Bundle(#[from] bundle::BundleError),
}

/// Which runtime the local node runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LocalRuntime {
    /// containerd + runc from Debian's newer suites (the default).
    #[default]
    Containerd,
    /// A CRI-O you provide (`--crio`), with conmon and runc from Debian.
    #[value(name = "cri-o")]
    CriO,
}

/// Options of the `local` target.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// State folder of the node.
    pub node_dir: PathBuf,
    /// Test image instead of the node's busybox.
    pub image: Option<String>,
    pub runtime: LocalRuntime,
    /// The CRI-O to run (`--crio`): a binary or an unpacked release folder.
    pub crio: Option<PathBuf>,
    /// Where that CRI-O came from (the path given, or a release bundle).
    pub crio_origin: Option<String>,
    /// How the CRI-O node differs from the default one.
    pub variant: crio::CrioVariant,
}

const SCRIPTS: [(&str, &str); 4] = [
    (
        "node.sh",
        include_str!("../../../../clusters/local/node.sh"),
    ),
    (
        "crio.sh",
        include_str!("../../../../clusters/local/crio.sh"),
    ),
    (
        "common.sh",
        include_str!("../../../../clusters/local/common.sh"),
    ),
    (
        "mkimages.sh",
        include_str!("../../../../clusters/local/mkimages.sh"),
    ),
];

/// What `node.sh status` reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeStatus {
    pub running: bool,
    pub pid: Option<u32>,
    pub socket: String,
    pub containerd: Option<String>,
    pub runc: Option<String>,
    pub bridge: Option<String>,
    /// CRI-O flavour: the versions of crio and conmon, the OCI runtime in use
    /// (runc or crun) and the subordinate-id lines the node added.
    pub crio: Option<String>,
    pub conmon: Option<String>,
    pub oci_runtime: Option<String>,
    pub subids_added: Option<String>,
    /// The running CRI-O's variant: `hidden` when it sees no `containers`
    /// subordinate ids, and the names of the drop-ins it was started with.
    pub subids: Option<String>,
    pub dropins: Option<String>,
    /// Where the node's CRI-O came from, and where its conmon, OCI runtimes
    /// and CNI plugins came from (the release bundle or Debian).
    pub origin: Option<String>,
    pub runtime_from: Option<String>,
}

pub struct Node {
    dir: PathBuf,
    runtime: LocalRuntime,
    /// The CRI-O to provision from; without it, start reuses the folder's.
    crio: Option<PathBuf>,
    /// Where `crio` came from, recorded by provisioning for `status`.
    origin: Option<String>,
    variant: crio::CrioVariant,
}

/// Runs `bash ARGS…`, capturing stdout and stderr; with `echo`, each stderr
/// line is also printed to our stderr as it arrives.
fn run_streaming(
    args: &[&OsStr],
    env: &[(&str, std::ffi::OsString)],
    echo: bool,
) -> std::io::Result<std::process::Output> {
    use std::io::{BufRead, Read};
    use std::process::{Command, Stdio};
    let mut child = Command::new("bash")
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().map(std::io::BufReader::new);
    let lines = std::thread::spawn(move || {
        let mut kept = Vec::new();
        for line in stderr.into_iter().flat_map(|r| r.split(b'\n')) {
            let Ok(line) = line else { break };
            if echo {
                eprintln!("  {}", String::from_utf8_lossy(&line));
            }
            kept.extend_from_slice(&line);
            kept.push(b'\n');
        }
        kept
    });
    let mut stdout = Vec::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_end(&mut stdout)?;
    }
    let status = child.wait()?;
    let stderr = lines.join().unwrap_or_default();
    Ok(std::process::Output {
        status,
        stdout,
        stderr,
    })
}

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| cri::host::effective_id(&s, "Uid:"))
        == Some(0)
}

impl Node {
    /// The containerd node in `dir`.
    pub fn new(dir: &Path) -> Node {
        Node {
            dir: dir.to_path_buf(),
            runtime: LocalRuntime::Containerd,
            crio: None,
            origin: None,
            variant: crio::CrioVariant::default(),
        }
    }

    /// The CRI-O node in `dir`, provisioned from `crio` when given.
    pub fn cri_o(dir: &Path, crio: Option<&Path>) -> Node {
        Node {
            dir: dir.to_path_buf(),
            runtime: LocalRuntime::CriO,
            crio: crio.map(Path::to_path_buf),
            origin: None,
            variant: crio::CrioVariant::default(),
        }
    }

    /// This CRI-O node started as `variant` says (drop-ins, hidden subids).
    pub fn with_variant(mut self, variant: crio::CrioVariant) -> Node {
        self.variant = variant;
        self
    }

    /// Records where the CRI-O came from (shown by `status`).
    pub fn with_origin(mut self, origin: Option<String>) -> Node {
        self.origin = origin;
        self
    }

    /// The node these options describe.
    pub fn from_options(options: &LocalOptions) -> Node {
        match options.runtime {
            LocalRuntime::Containerd => Node::new(&options.node_dir),
            LocalRuntime::CriO => Node::cri_o(&options.node_dir, options.crio.as_deref())
                .with_variant(options.variant.clone())
                .with_origin(options.crio_origin.clone()),
        }
    }

    pub fn runtime(&self) -> LocalRuntime {
        self.runtime
    }

    /// Whether the node was started (its pid file exists).
    pub fn started(&self) -> bool {
        let pid = match self.runtime {
            LocalRuntime::Containerd => "containerd.pid",
            LocalRuntime::CriO => "crio.pid",
        };
        self.dir.join(pid).exists()
    }

    fn provisioned(&self) -> bool {
        self.dir.join(".provisioned").exists()
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
        for (name, text) in SCRIPTS {
            let p = d.join(name);
            if std::fs::read_to_string(&p).ok().as_deref() != Some(text) {
                std::fs::write(&p, text).map_err(|source| NodeError::Write {
                    path: p.clone(),
                    source,
                })?;
            }
        }
        Ok(d.join(match self.runtime {
            LocalRuntime::Containerd => "node.sh",
            LocalRuntime::CriO => "crio.sh",
        }))
    }

    fn script(&self, command: &str) -> Result<String, NodeError> {
        self.script_with(command, None)
    }

    /// Runs `SCRIPT COMMAND DIR [EXTRA]`; stderr (what the script says it
    /// does, e.g. a change to /etc/subuid) is passed on to ours.
    fn script_with(&self, command: &str, extra: Option<&OsStr>) -> Result<String, NodeError> {
        if !is_root() {
            return Err(NodeError::NotRoot);
        }
        let script = self.scripts()?;
        let mut args = vec![script.as_os_str(), command.as_ref(), self.dir.as_os_str()];
        args.extend(extra);
        // Provisioning takes minutes (package downloads, image build): its
        // log lines are shown as they come instead of silence.
        let echo = matches!(command, "provision" | "start") && !self.provisioned();
        let mut env = match (self.runtime, command) {
            (LocalRuntime::CriO, "start") => self.variant.resolved()?.env(),
            _ => Vec::new(),
        };
        if let Some(origin) = &self.origin {
            env.push(("CRIO_ORIGIN", origin.into()));
        }
        let out = run_streaming(&args, &env, echo).map_err(|source| NodeError::Spawn {
            script: script.clone(),
            source,
        })?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if self.runtime == LocalRuntime::CriO && out.status.success() && !echo {
            // The CRI-O flavour reports host changes (subordinate ids, runc
            // instead of crun): the user must see them.
            for line in stderr.lines().filter(|l| l.starts_with("crio-node:")) {
                eprintln!("{line}");
            }
        }
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
        self.script_with("provision", self.crio_arg()?.as_deref())
            .map(|_| ())
    }

    /// The resolved `--crio` for the script, after checking its version.
    fn crio_arg(&self) -> Result<Option<std::ffi::OsString>, NodeError> {
        match (&self.runtime, &self.crio) {
            (LocalRuntime::CriO, Some(c)) => {
                crio::version(c)?;
                Ok(Some(c.clone().into_os_string()))
            }
            (LocalRuntime::CriO, None) if !self.provisioned() => Err(NodeError::Crio(format!(
                "{} holds no CRI-O node yet: give the crio to use with --crio PATH",
                self.dir.display()
            ))),
            _ => Ok(None),
        }
    }

    /// Starts the node (provisioning first when needed); returns the CRI socket.
    pub fn start(&self) -> Result<String, NodeError> {
        if self.runtime == LocalRuntime::Containerd && self.variant.is_set() {
            return Err(NodeError::Crio(
                "--crio-conf and --hide-subids are for the CRI-O node (--runtime cri-o)".into(),
            ));
        }
        let out = self.script_with("start", self.crio_arg()?.as_deref())?;
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

    /// Stops the node, then deletes its folder and undoes its host changes
    /// (the subordinate ids it added). CRI-O flavour only.
    pub fn purge(&self) -> Result<(), NodeError> {
        if self.runtime != LocalRuntime::CriO {
            return Err(NodeError::Crio(
                "--purge is for the CRI-O node (--runtime cri-o); the containerd node changes nothing outside its folder".into(),
            ));
        }
        self.script_with("stop", Some(OsStr::new("--purge")))
            .map(|_| ())
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
            crio: get("crio"),
            conmon: get("conmon"),
            oci_runtime: get("runtime"),
            subids_added: get("subids_added"),
            subids: get("subids"),
            dropins: get("dropins"),
            origin: get("origin"),
            runtime_from: get("runtime_from"),
        })
    }
}

/// Provisions and starts the node, then connects the cri target to it.
pub async fn connect(options: &LocalOptions) -> Result<Box<dyn Target>, TargetError> {
    let node = Node::from_options(options);
    if !is_root() {
        return Err(TargetError::unusable_by(
            "the local node",
            NodeError::NotRoot,
        ));
    }
    if !node.provisioned() {
        let what = match node.runtime {
            LocalRuntime::Containerd => "containerd and runc",
            LocalRuntime::CriO => "conmon and runc for CRI-O",
        };
        eprintln!(
            "provisioning the local node in {} ({what} from Debian packages; once) …",
            node.dir.display()
        );
    }
    // Under the node folder's lock, and registered as one of its runs, so a
    // run started at the same time waits instead of provisioning or
    // starting alongside, and neither stops the node under the other.
    let socket =
        tokio::task::spawn_blocking(move || sharing::join(&node.dir.clone(), || node.start()))
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

/// Ends this run's use of the local node: the last run using it stops it,
/// unless `keep` (`--keep-node`); with other runs still on it, it says so.
pub fn stop_after_run(options: &LocalOptions, keep: bool) {
    let node = Node::from_options(options);
    if !node.dir.join(".runs").exists() {
        // This run never got as far as joining the node.
        return;
    }
    let dir = node.dir.clone();
    let stop = || {
        if node.started() {
            eprintln!("stopping the local node (--keep-node keeps it running)");
            node.stop()
        } else {
            Ok(())
        }
    };
    match sharing::leave(&dir, keep, stop) {
        Ok(sharing::Left::OthersRemain(n)) => eprintln!(
            "the local node keeps running: {n} other run(s) use it; the last one stops it"
        ),
        Ok(_) => {}
        Err(e) => eprintln!("warning: {}", crate::targets::chain(&e)),
    }
}

/// The node folder: `given` (`--node-dir`), else `node` (containerd) or
/// `node-crio-<version>` (CRI-O, the version of `crio`) under `root`; without
/// `--crio`, the only CRI-O node folder there is.
pub fn node_dir(
    root: &Path,
    runtime: LocalRuntime,
    given: Option<&Path>,
    crio: Option<&Path>,
) -> Result<PathBuf, NodeError> {
    if let Some(d) = given {
        return Ok(d.to_path_buf());
    }
    match (runtime, crio) {
        (LocalRuntime::Containerd, _) => Ok(root.join("node")),
        (LocalRuntime::CriO, Some(c)) => Ok(crio::default_dir(root, &crio::version(c)?)),
        (LocalRuntime::CriO, None) => match crio::existing_dirs(root).as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(NodeError::Crio(format!(
                "no CRI-O node under {}: start one with --runtime cri-o --crio PATH",
                root.display()
            ))),
            many => Err(NodeError::Crio(format!(
                "several CRI-O nodes under {} ({}): say which with --node-dir or --crio",
                root.display(),
                many.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streamed_script_still_has_its_stdout_stderr_and_status_captured() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("s.sh");
        std::fs::write(
            &script,
            "echo \"out $1 $2\"; for i in 1 2 3; do echo \"node: step $i\" >&2; done; exit 3\n",
        )
        .unwrap();
        let args = [
            script.as_os_str(),
            "provision".as_ref(),
            dir.path().as_os_str(),
        ];
        let out = run_streaming(&args, &[], true).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("out provision {}\n", dir.path().display())
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "node: step 1\nnode: step 2\nnode: step 3\n"
        );
        assert_eq!(out.status.code(), Some(3));
    }
}
