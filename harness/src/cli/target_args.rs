//! Options that choose and configure a target, shared by `run` and `cleanup`.

use std::path::{Path, PathBuf};

use crate::exit::CliError;
use crate::facts::TargetKind;
use crate::targets::cri::CriOptions;
use crate::targets::kube::{KubeConnect, KubeOptions};
use crate::targets::local::crio::CrioSource;
use crate::targets::local::{self, crio, LocalOptions, LocalRuntime, NodeError};
use crate::targets::{self, Target, TargetError, TargetOptions};

#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Where to run: the harness's own containerd node (default), a CRI
    /// socket, or a Kubernetes/OpenShift cluster (implied by --kubeconfig or
    /// --context, and by running in a pod: its ServiceAccount).
    #[arg(long, value_enum)]
    pub target: Option<TargetKind>,
    /// CRI socket for `--target cri`, e.g. unix:///run/crio/crio.sock.
    #[arg(long)]
    pub socket: Option<String>,
    /// State folder of the local node (default /var/lib/userns-e2e/node, or
    /// /var/lib/userns-e2e/node-crio-VERSION with --runtime cri-o).
    #[arg(long, env = "USERNS_E2E_NODE_DIR")]
    pub node_dir: Option<PathBuf>,
    /// Runtime of the local node.
    #[arg(long, value_enum, default_value_t)]
    pub runtime: LocalRuntime,
    /// The CRI-O the local node runs (--runtime cri-o): a crio binary (e.g.
    /// /usr/bin/crio), an unpacked release folder (bin/crio, or cri-o/bin/crio),
    /// or a release version (1.36.3: CRI-O's static bundle, downloaded once into
    /// $XDG_CACHE_HOME/userns-e2e/crio; USERNS_E2E_CRIO_MIRROR overrides where from).
    #[arg(long, value_parser = CrioSource::from_arg)]
    pub crio: Option<CrioSource>,
    /// Where `crio` came from, once resolved (not an argument).
    #[arg(skip)]
    pub crio_origin: Option<String>,
    #[command(flatten)]
    pub crio_variant: crio::CrioVariant,
    /// local: leave the node (containerd, its bridge) running after the
    /// command, so the next run starts in about a second. What the scenarios
    /// made is removed either way.
    #[arg(long)]
    pub keep_node: bool,
    /// kubeconfig file (kube target).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context (kube target).
    #[arg(long)]
    pub context: Option<String>,
    /// Impersonate this user for every scenario (kube target), e.g. `test`.
    #[arg(long = "as")]
    pub as_user: Option<String>,
    /// kube: keep each scenario's namespace and pods after it ran, to inspect
    /// them (`cleanup` removes them later). The cri/local targets always
    /// remove their sandboxes.
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
    pub fn check(&self) -> Result<(), CliError> {
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
        if kind != TargetKind::Cri && self.socket.is_some() {
            wrong.push("--socket");
        }
        if kind != TargetKind::Local {
            for (set, flag) in [
                (self.keep_node, "--keep-node"),
                (self.runtime != LocalRuntime::Containerd, "--runtime"),
                (self.crio.is_some(), "--crio"),
            ] {
                if set {
                    wrong.push(flag);
                }
            }
        } else if self.crio.is_some() && self.runtime != LocalRuntime::CriO {
            wrong.push("--crio (without --runtime cri-o)");
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(CliError::Usage(format!(
                "{} cannot be used with --target {kind}",
                wrong.join(", ")
            )))
        }
    }

    /// What `run` and `cleanup` check before they touch a system (see
    /// [`super::preflight`]); `listing` (`run --list`) needs no node.
    pub fn preflight(&self, host: &super::preflight::Host, listing: bool) -> Result<(), CliError> {
        self.check()?;
        let kind = self.kind();
        if self.crio_variant.is_set() && kind != TargetKind::Local {
            return Err(CliError::Usage(
                "--crio-conf and --hide-subids shape the harness's CRI-O node (--target local --runtime cri-o)".into(),
            ));
        }
        if self.crio_variant.is_set() && self.runtime != LocalRuntime::CriO {
            return Err(CliError::Usage(
                "--crio-conf and --hide-subids need --runtime cri-o".into(),
            ));
        }
        if kind == TargetKind::Cri && self.socket.is_none() {
            return Err(CliError::Usage(
                "--target cri needs --socket unix:///path/to/cri.sock".into(),
            ));
        }
        super::preflight::crio(self.crio.as_ref(), &self.crio_variant, host)?;
        if kind == TargetKind::Local && !listing && !host.root {
            return Err(TargetError::unusable_by("the local node", NodeError::NotRoot).into());
        }
        Ok(())
    }

    /// These options with `--crio` resolved to a CRI-O on this machine (a
    /// release version is downloaded into the cache the first time). Called
    /// before the async runtime starts: the download blocks.
    pub fn resolved(&self) -> Result<TargetArgs, CliError> {
        let mut out = self.clone();
        if self.kind() == TargetKind::Local {
            if let Some(c) = &self.crio {
                let r = c
                    .resolve()
                    .map_err(|e| CliError::environment(format!("CRI-O {c}"), e))?;
                out.crio = Some(CrioSource::Path(r.path));
                out.crio_origin = Some(r.origin);
            }
        }
        Ok(out)
    }

    /// The target kind these options select.
    pub fn kind(&self) -> TargetKind {
        match self.target {
            Some(k) => k,
            None if self.kubeconfig.is_some() || self.context.is_some() => TargetKind::Kube,
            None if self.socket.is_some() => TargetKind::Cri,
            // In a pod (a Job, a Sonobuoy plugin): the cluster, as the pod's ServiceAccount.
            None if crate::targets::kube::in_cluster() => TargetKind::Kube,
            None => TargetKind::Local,
        }
    }

    /// The selected target's own options.
    pub fn options(&self) -> Result<TargetOptions, CliError> {
        Ok(match self.kind() {
            TargetKind::Local => TargetOptions::Local(self.local_options()?),
            TargetKind::Cri => TargetOptions::Cri {
                socket: self.socket.clone().ok_or_else(|| {
                    CliError::Usage("--target cri needs --socket unix:///path/to/cri.sock".into())
                })?,
                options: CriOptions {
                    image: self.image.clone(),
                    state_dir: targets::cri_state_dir(
                        &self
                            .node_dir
                            .clone()
                            .unwrap_or_else(|| Path::new(crio::NODES_ROOT).join("node")),
                    ),
                    ..CriOptions::default()
                },
            },
            TargetKind::Kube => TargetOptions::Kube(KubeConnect {
                kubeconfig: self.kubeconfig.clone(),
                context: self.context.clone(),
                options: KubeOptions {
                    keep: self.keep,
                    as_user: self.as_user.clone(),
                    image: self.image.clone(),
                    node_evidence: self.node_evidence,
                    ..KubeOptions::default()
                },
                check_permissions: true,
            }),
        })
    }

    /// The local target's options, with its node folder resolved.
    /// The local target's options, with its node folder resolved (call it on
    /// [`TargetArgs::resolved`] options: a release version has no path yet).
    pub fn local_options(&self) -> Result<LocalOptions, CliError> {
        let crio = match &self.crio {
            Some(CrioSource::Path(p)) => Some(p.clone()),
            Some(CrioSource::Release(v)) => {
                return Err(CliError::Usage(format!(
                    "internal: --crio {v} was not resolved before the node was asked for"
                )))
            }
            None => None,
        };
        let node_dir = local::node_dir(
            Path::new(crio::NODES_ROOT),
            self.runtime,
            self.node_dir.as_deref(),
            crio.as_deref(),
        )
        .map_err(|e| CliError::environment("the local node", e))?;
        Ok(LocalOptions {
            node_dir,
            image: self.image.clone(),
            runtime: self.runtime,
            crio,
            crio_origin: self.crio_origin.clone(),
            variant: self.crio_variant.clone(),
        })
    }

    /// Stops the local node after a command unless `--keep-node`.
    pub fn stop_local_node(&self) {
        if self.kind() == TargetKind::Local {
            if let Ok(options) = self.local_options() {
                targets::local::stop_after_run(&options, self.keep_node);
            }
        }
    }
}

/// Connects to the selected target to run scenarios.
pub async fn connect(args: &TargetArgs) -> Result<Box<dyn Target>, CliError> {
    Ok(targets::connect(args.options()?).await?)
}

/// Connects to the selected target to remove leftovers: on a cluster that
/// lists and deletes namespaces only, so the rules a run needs are not asked.
pub async fn connect_to_clean(args: &TargetArgs) -> Result<Box<dyn Target>, CliError> {
    let mut options = args.options()?;
    if let TargetOptions::Kube(k) = &mut options {
        k.check_permissions = false;
    }
    Ok(targets::connect(options).await?)
}
