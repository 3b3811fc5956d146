//! The command line: `run | list | validate | schema | compare | doctor | cleanup | node | cluster`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub mod cleanup;
pub mod cluster;
pub mod compare;
pub mod doctor;
pub mod node;
pub mod preflight;
pub mod run;
pub mod target_args;
pub mod validate;

/// Conformance harness for Linux user namespaces on Kubernetes, OpenShift and
/// CRI runtimes (CRI-O, containerd).
#[derive(Debug, Parser)]
#[command(name = "userns-e2e", version, about, long_about = None)]
pub struct Cli {
    /// More logging (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios against a target and write reports.
    // Boxed: its flags outweigh every other command's by far.
    Run(Box<run::RunArgs>),
    /// List scenarios with their requirements.
    List(validate::ListArgs),
    /// Check scenario files, or diagnosis catalog entries (diagnoses/), without running anything.
    Validate(validate::ValidateArgs),
    /// Print the JSON Schema of the scenario format (or of results, or of diagnosis entries).
    Schema(validate::SchemaArgs),
    /// Compare results files from several runs.
    Compare(compare::CompareArgs),
    /// Is the target ready for user-namespaced pods? Facts, probe pods, a readiness table.
    Doctor(doctor::DoctorArgs),
    /// Remove everything earlier runs left behind on a target (by label).
    Cleanup(cleanup::CleanupArgs),
    /// Manage the harness's own local containerd node.
    Node(node::NodeArgs),
    /// Make or prepare clusters (kind with CRI-O, OpenShift).
    Cluster(cluster::ClusterArgs),
}

/// Default scenario location when no path is given.
pub fn default_paths(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        paths
    }
}

/// The async runtime for commands that talk to a target.
pub fn runtime() -> Result<tokio::runtime::Runtime, crate::exit::CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::exit::CliError::environment("cannot start the async runtime", e))
}

/// Writes to stdout, ignoring a closed pipe (`userns-e2e schema | head`).
pub fn print_stdout(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // Libraries (kube, tonic) log their own view of failures we already report; only with -vv.
    let others = if verbose >= 2 { default } else { "off" };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{others},userns_e2e={default}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Parses arguments, runs the command, returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help, the version, or the usage error itself.
            let _ = e.print();
            let result = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    Ok(crate::exit::Status::Ok)
                }
                _ => Err(crate::exit::CliError::Usage(e.to_string())),
            };
            return crate::exit::code(&result);
        }
    };
    init_tracing(cli.verbose);
    if let Err(e) = preflight::check(&cli, &preflight::Host::this_process()) {
        return crate::exit::finish(Err(e));
    }
    if matches!(cli.command, Command::Run(_) | Command::Doctor(_)) {
        // A build whose embedded catalog does not load would diagnose
        // nothing and say "no match"; say why instead (the tests prevent it).
        if let Err(errors) = crate::diagnose::catalog::embedded() {
            for e in errors {
                eprintln!("warning: built-in diagnosis catalog: {e}");
            }
        }
    }
    let result = match cli.command {
        Command::Run(a) => run::run(*a),
        Command::List(a) => validate::list(a),
        Command::Validate(a) => validate::validate(a),
        Command::Schema(a) => validate::schema(a),
        Command::Compare(a) => compare::compare(a),
        Command::Doctor(a) => doctor::doctor(a),
        Command::Cleanup(a) => cleanup::cleanup(a),
        Command::Node(a) => node::node(a),
        Command::Cluster(a) => cluster::cluster(a),
    };
    crate::exit::finish(result)
}
