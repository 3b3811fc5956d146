//! Options that choose and configure a target, shared by `run` and `cleanup`.

use std::path::PathBuf;

use crate::facts::TargetKind;
use crate::target::{Target, TargetError};

#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Where to run: the harness's own containerd node (default), a CRI
    /// socket, or a Kubernetes/OpenShift cluster (implied by --kubeconfig or --context).
    #[arg(long, value_enum)]
    pub target: Option<TargetKind>,
    /// CRI socket for `--target cri`, e.g. unix:///run/crio/crio.sock.
    #[arg(long)]
    pub socket: Option<String>,
    /// State folder of the local node.
    #[arg(
        long,
        env = "USERNS_E2E_NODE_DIR",
        default_value = "/var/lib/userns-e2e/node"
    )]
    pub node_dir: PathBuf,
    /// Leave the local node running after the run.
    #[arg(long)]
    pub keep_node: bool,
    /// cri/local: play a kubelet without UserNamespacesSupport, which sends no
    /// user-namespace options for pods without `hostUsers: false` (CRI-O then
    /// reads its userns-mode annotation). Default: send mode NODE, as kubelets
    /// with the gate on do.
    #[arg(long)]
    pub legacy_kubelet: bool,
    /// kubeconfig file (kube target).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context (kube target).
    #[arg(long)]
    pub context: Option<String>,
    /// Impersonate this user for every scenario (kube target), e.g. `test`.
    #[arg(long = "as")]
    pub as_user: Option<String>,
    /// Keep each scenario's namespace for debugging (kube target).
    #[arg(long)]
    pub keep: bool,
    /// kube: read host-side evidence on the node (`docker exec` on kind, `oc debug node` on
    /// OpenShift). The cri and local targets always read the host view.
    #[arg(long)]
    pub node_evidence: bool,
    /// Test image (default: the local node's busybox; on clusters, pass an image the nodes can pull).
    #[arg(long)]
    pub image: Option<String>,
}

impl TargetArgs {
    /// Options that only one target understands are refused elsewhere, not ignored.
    pub fn check(&self) -> Result<(), String> {
        let kind = self.kind();
        let mut wrong = Vec::new();
        if kind != TargetKind::Kube {
            for (set, flag) in [
                (self.as_user.is_some(), "--as"),
                (self.keep, "--keep"),
                (self.node_evidence, "--node-evidence"),
                (self.kubeconfig.is_some(), "--kubeconfig"),
                (self.context.is_some(), "--context"),
            ] {
                if set {
                    wrong.push(flag);
                }
            }
        }
        if kind == TargetKind::Kube && self.legacy_kubelet {
            wrong.push("--legacy-kubelet");
        }
        if kind != TargetKind::Cri && self.socket.is_some() {
            wrong.push("--socket");
        }
        if kind != TargetKind::Local && self.keep_node {
            wrong.push("--keep-node");
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} cannot be used with --target {kind}",
                wrong.join(", ")
            ))
        }
    }

    /// The target kind these options select.
    pub fn kind(&self) -> TargetKind {
        match self.target {
            Some(k) => k,
            None if self.kubeconfig.is_some() || self.context.is_some() => TargetKind::Kube,
            None if self.socket.is_some() => TargetKind::Cri,
            None => TargetKind::Local,
        }
    }
}

/// Connects to the selected target.
pub async fn connect(args: &TargetArgs) -> Result<Box<dyn Target>, TargetError> {
    match args.kind() {
        TargetKind::Local => crate::target::local::connect(args).await,
        TargetKind::Cri => crate::target::cri::connect(args).await,
        TargetKind::Kube => crate::target::kube::connect(args).await,
    }
}
