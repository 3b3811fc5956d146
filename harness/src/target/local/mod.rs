//! The `local` target.

use crate::cli::target_args::TargetArgs;
use crate::target::{Target, TargetError};

/// Connects (and for `local`, provisions and starts the node).
pub async fn connect(args: &TargetArgs) -> Result<Box<dyn Target>, TargetError> {
    let _ = args;
    Err(TargetError::Unusable("the local target is not implemented yet".into()))
}

/// Stops the local node after a run (called unless `--keep-node`).
pub fn stop_after_run(args: &TargetArgs) {
    let _ = args;
}
