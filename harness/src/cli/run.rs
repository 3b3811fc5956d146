//! `run`.

use std::path::PathBuf;

use super::target_args::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Write JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write JSON results here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY).
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Per-pod settle timeout unless the scenario sets one.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Scenario files or folders (default: scenarios/); an argument that is
    /// not an existing path is the test-name filter, as with `cargo test`.
    pub args: Vec<String>,
    /// Skip scenarios whose name contains this (repeatable).
    #[arg(long)]
    pub skip: Vec<String>,
    /// Match the filter exactly.
    #[arg(long)]
    pub exact: bool,
    /// List the selected scenarios instead of running them.
    #[arg(long)]
    pub list: bool,
    /// How many scenarios run at once (default: the number of CPUs).
    #[arg(long)]
    pub test_threads: Option<usize>,
}

pub fn run(args: RunArgs) -> i32 {
    let _ = args;
    crate::exit::OK
}
