//! `cluster up|down|prepare`.

#[derive(Debug, clap::Args)]
pub struct ClusterArgs {}

pub fn cluster(args: ClusterArgs) -> i32 {
    let _ = args;
    crate::exit::OK
}
