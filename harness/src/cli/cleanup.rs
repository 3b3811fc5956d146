//! `cleanup`: remove what earlier runs left behind, found by the harness label only.

use super::target_args::{self, TargetArgs};
use crate::exit::{CliError, Status};

#[derive(Debug, clap::Args)]
pub struct CleanupArgs {
    #[command(flatten)]
    pub target: TargetArgs,
}

pub fn cleanup(args: CleanupArgs) -> Result<Status, CliError> {
    let args = CleanupArgs {
        target: args.target.resolved()?,
    };
    let rt = crate::cli::runtime()?;
    let removed = rt.block_on(async {
        let target = target_args::connect_to_clean(&args.target).await?;
        Ok::<_, CliError>(target.cleanup().await?)
    });
    args.target.stop_local_node();
    let lines = removed?;
    if lines.is_empty() {
        println!("nothing to remove");
    }
    for l in &lines {
        println!("removed {l}");
    }
    Ok(Status::Ok)
}
