//! `validate`, `list` and `schema`.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Scenario files or folders (default: scenarios/).
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Scenario files or folders (default: scenarios/).
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {}

pub fn validate(args: ValidateArgs) -> i32 {
    let _ = args;
    crate::exit::OK
}

pub fn list(args: ListArgs) -> i32 {
    let _ = args;
    crate::exit::OK
}

pub fn schema(args: SchemaArgs) -> i32 {
    let _ = args;
    crate::exit::OK
}
