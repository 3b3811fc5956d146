//! `node start|stop|status`: the harness's own local node (containerd, or a
//! CRI-O you provide).

use std::path::{Path, PathBuf};

use crate::exit::{CliError, Status};
use crate::targets::local::{self, crio, LocalRuntime, Node, NodeStatus};

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
    /// The CRI-O to run (--runtime cri-o): a crio binary (e.g. /usr/bin/crio)
    /// or an unpacked release folder (bin/crio + bin/pinns, or cri-o/bin/…).
    #[arg(long, global = true)]
    pub crio: Option<PathBuf>,
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

pub fn node(args: NodeArgs) -> Result<Status, CliError> {
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
    let dir = local::node_dir(
        Path::new(crio::NODES_ROOT),
        args.runtime,
        args.node_dir.as_deref(),
        args.crio.as_deref(),
    )
    .map_err(|e| CliError::environment("the local node", e))?;
    let node = match args.runtime {
        LocalRuntime::Containerd => Node::new(&dir),
        LocalRuntime::CriO => {
            Node::cri_o(&dir, args.crio.as_deref()).with_variant(match &args.action {
                NodeAction::Start { variant } => variant.clone(),
                _ => crio::CrioVariant::default(),
            })
        }
    };
    let result = match args.action {
        NodeAction::Start { .. } => node.start().map(|socket| format!("{socket}\n")),
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
