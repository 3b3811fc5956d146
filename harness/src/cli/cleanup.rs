//! `cleanup`: remove what earlier runs left behind, found by the harness label only.

use super::target_args::{self, TargetArgs};
use crate::exit;

#[derive(Debug, clap::Args)]
pub struct CleanupArgs {
    #[command(flatten)]
    pub target: TargetArgs,
}

pub fn cleanup(args: CleanupArgs) -> i32 {
    if let Err(e) = args.target.check() {
        eprintln!("error: {e}");
        return exit::BAD_INPUT;
    }
    let rt = match crate::cli::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let removed = rt.block_on(async {
        let target = target_args::connect(&args.target).await?;
        target.cleanup().await
    });
    let code = match removed {
        Ok(lines) if lines.is_empty() => {
            println!("nothing to remove");
            exit::OK
        }
        Ok(lines) => {
            for l in &lines {
                println!("removed {l}");
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::TARGET_UNUSABLE
        }
    };
    if args.target.kind() == crate::facts::TargetKind::Local && !args.target.keep_node {
        crate::target::local::stop_after_run(&args.target);
    }
    code
}
