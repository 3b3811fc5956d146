//! `node start|stop|status`: the harness's own local containerd node.

#[derive(Debug, clap::Args)]
pub struct NodeArgs {}

pub fn node(args: NodeArgs) -> i32 {
    let _ = args;
    crate::exit::OK
}
