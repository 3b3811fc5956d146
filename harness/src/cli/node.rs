//! `node start|stop|status`: the harness's own local node (containerd, or a
//! CRI-O you provide).

use std::path::{Path, PathBuf};

use crate::exit::{CliError, Status};
use crate::targets::local::crio::CrioSource;
use crate::targets::local::{self, crio, LocalRuntime, Node, NodeError, NodeStatus};
use crate::targets::TargetError;

#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    #[command(subcommand)]
    pub action: NodeAction,
    /// State folder of the node (default /var/lib/userns-e2e/node, or
    /// /var/lib/userns-e2e/node-crio-VERSION with --runtime cri-o).
    #[arg(long, env = "USERNS_E2E_NODE_DIR", global = true)]
    pub node_dir: Option<PathBuf>,
    /// Runtime of the node.
    #[arg(long, value_enum, default_value_t, global = true)]
    pub runtime: LocalRuntime,
    /// The CRI-O to run (--runtime cri-o): a crio binary (e.g. /usr/bin/crio),
    /// an unpacked release folder (bin/crio + bin/pinns, or cri-o/bin/…), or a
    /// release version (1.36.3: CRI-O's static bundle, downloaded once).
    #[arg(long, global = true, value_parser = CrioSource::from_arg)]
    pub crio: Option<CrioSource>,
}

#[derive(Debug, clap::Subcommand)]
pub enum NodeAction {
    /// Provision (once) and start the node; prints its CRI socket.
    Start {
        #[command(flatten)]
        variant: crio::CrioVariant,
    },
    /// Stop the node and remove its mounts, network namespaces and bridge.
    Stop {
        /// CRI-O node: also delete its folder and the subordinate ids it added
        /// to /etc/subuid and /etc/subgid.
        #[arg(long)]
        purge: bool,
    },
    /// Say whether it runs, with its socket and versions.
    Status,
}

/// The CRI-O variant `start` asks for (the others start nothing).
fn variant(action: &NodeAction) -> crio::CrioVariant {
    match action {
        NodeAction::Start { variant } => variant.clone(),
        _ => crio::CrioVariant::default(),
    }
}

/// What `node` checks before it touches the system (see [`super::preflight`]).
pub fn preflight(args: &NodeArgs, host: &super::preflight::Host) -> Result<(), CliError> {
    if args.runtime != LocalRuntime::CriO {
        if args.crio.is_some() {
            return Err(CliError::Usage("--crio needs --runtime cri-o".into()));
        }
        if matches!(&args.action, NodeAction::Start { variant } if variant.is_set()) {
            return Err(CliError::Usage(
                "--crio-conf and --hide-subids need --runtime cri-o".into(),
            ));
        }
        if matches!(args.action, NodeAction::Stop { purge: true }) {
            return Err(CliError::Usage(
                "--purge is for the CRI-O node (--runtime cri-o); the containerd node changes nothing outside its folder".into(),
            ));
        }
    }
    super::preflight::crio(args.crio.as_ref(), &variant(&args.action), host)?;
    if !host.root {
        return Err(TargetError::unusable_by("the local node", NodeError::NotRoot).into());
    }
    Ok(())
}

pub fn node(args: NodeArgs) -> Result<Status, CliError> {
    // Only `start` needs the CRI-O itself (a release is downloaded then);
    // stop and status find the node folder of a release already cached.
    let resolved = match &args.crio {
        Some(c @ CrioSource::Release(v)) if !matches!(args.action, NodeAction::Start { .. }) => {
            match local::bundle::cached(&local::bundle::cache_root(), v) {
                Some(b) => Some((b.dir.clone(), b.describe())),
                // --node-dir names the node without its CRI-O.
                None if args.node_dir.is_some() => None,
                None => {
                    return Err(CliError::environment(
                        format!("CRI-O {c}"),
                        NodeError::Crio(format!(
                            "CRI-O {v} was never downloaded here, so no node runs it; give --node-dir, or start it first"
                        )),
                    ))
                }
            }
        }
        Some(c) => {
            let r = c
                .resolve()
                .map_err(|e| CliError::environment(format!("CRI-O {c}"), e))?;
            Some((r.path, r.origin))
        }
        None => None,
    };
    let crio_path = resolved.as_ref().map(|(p, _)| p.as_path());
    let dir = local::node_dir(
        Path::new(crio::NODES_ROOT),
        args.runtime,
        args.node_dir.as_deref(),
        crio_path,
    )
    .map_err(|e| CliError::environment("the local node", e))?;
    let node = match args.runtime {
        LocalRuntime::Containerd => Node::new(&dir),
        LocalRuntime::CriO => Node::cri_o(&dir, crio_path)
            .with_variant(variant(&args.action))
            .with_origin(resolved.as_ref().map(|(_, o)| o.clone())),
    };
    let result = match args.action {
        // Under the folder's lock, so it never provisions or starts beside a
        // run doing the same; by hand it registers no run (runs stop it last).
        NodeAction::Start { .. } => {
            local::sharing::with_runs(&dir, |runs| Ok((runs, node.start()?)))
                .map(|socket| format!("{socket}\n"))
        }
        NodeAction::Stop { purge: false } => node.stop().map(|()| "stopped\n".to_string()),
        NodeAction::Stop { purge: true } => node.purge().map(|()| "stopped and purged\n".into()),
        NodeAction::Status => node.status().map(|s| status_text(&s, &dir)),
    };
    // Printed whole and without panicking on a closed pipe (`| head -1`).
    if let Ok(text) = &result {
        super::print_stdout(text);
    }
    result.map_err(|e| CliError::environment(format!("local node in {}", dir.display()), e))?;
    Ok(Status::Ok)
}

/// A version as reports show it (`2.1.9`, see `RuntimeFacts::shown_version`).
fn shown(version: &str) -> String {
    crate::version::Version::parse(version)
        .map(|v| v.to_string())
        .unwrap_or_else(|| version.to_string())
}

fn status_text(s: &NodeStatus, dir: &Path) -> String {
    let mut out = vec![if s.running { "running" } else { "stopped" }.to_string()];
    if let Some(pid) = s.pid {
        out.push(format!("pid: {pid}"));
    }
    out.push(format!("socket: {}", s.socket));
    out.push(format!("folder: {}", dir.display()));
    out.push(match (&s.containerd, &s.crio, &s.runc) {
        (Some(c), _, Some(r)) => format!("containerd {}, runc {}", shown(c), shown(r)),
        (_, Some(c), Some(r)) => format!(
            "CRI-O {}, conmon {}, runc {}, OCI runtime {}",
            shown(c),
            s.conmon.as_deref().map(shown).as_deref().unwrap_or("?"),
            shown(r),
            s.oci_runtime.as_deref().unwrap_or("not started yet")
        ),
        _ => "not provisioned yet".into(),
    });
    if s.subids.as_deref() == Some("hidden") {
        out.push("crio sees no subordinate ids for containers (--hide-subids)".into());
    }
    if let Some(o) = &s.origin {
        out.push(format!("CRI-O from: {o}"));
    }
    if let Some(r) = &s.runtime_from {
        out.push(format!("conmon, OCI runtimes and CNI plugins from: {r}"));
    }
    if let Some(d) = &s.dropins {
        out.push(format!("CRI-O config drop-ins (--crio-conf): {d}"));
    }
    if let Some(ids) = &s.subids_added {
        out.push(format!(
            "subordinate ids added by the node (purge removes them): {ids}"
        ));
    }
    out.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 22: `node status` shows versions as the reports do.
    #[test]
    fn status_shows_normalised_versions() {
        let s = NodeStatus {
            running: true,
            socket: "unix:///x.sock".into(),
            containerd: Some("2.1.9~ds1-1+b2".into()),
            runc: Some("v1.3.6".into()),
            ..Default::default()
        };
        let text = status_text(&s, Path::new("/n"));
        assert!(text.contains("containerd 2.1.9, runc 1.3.6\n"), "{text}");
    }
}
