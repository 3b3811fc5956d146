//! `cleanup`.

use super::target_args::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct CleanupArgs {
    #[command(flatten)]
    pub target: TargetArgs,
}

pub fn cleanup(args: CleanupArgs) -> i32 {
    let _ = args;
    crate::exit::OK
}
