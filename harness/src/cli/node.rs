//! `node start|stop|status`: the harness's own local containerd node.

use std::path::PathBuf;

use crate::exit::{CliError, Status};
use crate::targets::local::Node;

#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    #[command(subcommand)]
    pub action: NodeAction,
    /// State folder of the node.
    #[arg(
        long,
        env = "USERNS_E2E_NODE_DIR",
        default_value = "/var/lib/userns-e2e/node",
        global = true
    )]
    pub node_dir: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
pub enum NodeAction {
    /// Provision (once) and start the node; prints its CRI socket.
    Start,
    /// Stop the node and remove its mounts, network namespaces and bridge.
    Stop,
    /// Say whether it runs, with its socket and versions.
    Status,
}

pub fn node(args: NodeArgs) -> Result<Status, CliError> {
    let node = Node::new(&args.node_dir);
    let result = match args.action {
        NodeAction::Start => node.start().map(|socket| println!("{socket}")),
        NodeAction::Stop => node.stop().map(|()| println!("stopped")),
        NodeAction::Status => node.status().map(|s| {
            println!("{}", if s.running { "running" } else { "stopped" });
            if let Some(pid) = s.pid {
                println!("pid: {pid}");
            }
            println!("socket: {}", s.socket);
            println!("folder: {}", args.node_dir.display());
            match (&s.containerd, &s.runc) {
                (Some(c), Some(r)) => println!("containerd {c}, runc {r}"),
                _ => println!("not provisioned yet"),
            }
        }),
    };
    result.map_err(|e| {
        CliError::environment(format!("local node in {}", args.node_dir.display()), e)
    })?;
    Ok(Status::Ok)
}
