//! `compare`.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Results files (JSON from `run --json`).
    pub results: Vec<PathBuf>,
}

pub fn compare(args: CompareArgs) -> i32 {
    let _ = args;
    crate::exit::OK
}
