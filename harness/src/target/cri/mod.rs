//! The `cri` target.

use crate::cli::target_args::TargetArgs;
use crate::target::{Target, TargetError};

/// Connects (and for `local`, provisions and starts the node).
pub async fn connect(args: &TargetArgs) -> Result<Box<dyn Target>, TargetError> {
    let _ = args;
    Err(TargetError::Unusable("the cri target is not implemented yet".into()))
}
