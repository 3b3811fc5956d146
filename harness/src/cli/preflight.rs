//! What every command checks before it touches a system: arguments that do
//! not fit together, `--crio` (a path that exists, or a CRI-O release
//! version), the files it must read, and root for the local node.
//!
//! [`super::main`] runs [`check`] on the parsed command line before the
//! command; `tests/workflow.rs` runs the same on every command the GitHub
//! workflow and `action.yml` would run, with the host that step would have
//! (root only under `sudo`, paths relative to the checkout).

use std::path::{Path, PathBuf};

use super::{Cli, Command};
use crate::exit::CliError;
use crate::targets::local::crio::{self, CrioSource, CrioVariant};

/// The machine a command line is judged for.
#[derive(Debug, Clone)]
pub struct Host {
    /// Whether the command runs as root.
    pub root: bool,
    /// The folder relative paths are resolved from.
    pub cwd: PathBuf,
    /// Whether absolute paths can be checked here (false when judging
    /// another machine's command line, e.g. a CI runner's).
    pub absolute_paths: bool,
}

impl Host {
    /// This process on this machine.
    pub fn this_process() -> Host {
        Host {
            root: crate::targets::local::is_root(),
            cwd: PathBuf::from("."),
            absolute_paths: true,
        }
    }

    /// Whether `path` exists there; `None` when that cannot be told here.
    pub fn exists(&self, path: &Path) -> Option<bool> {
        if path.is_absolute() {
            self.absolute_paths.then(|| path.exists())
        } else {
            Some(self.cwd.join(path).exists())
        }
    }
}

/// The checks a command makes before it touches a system.
pub fn check(cli: &Cli, host: &Host) -> Result<(), CliError> {
    match &cli.command {
        Command::Run(a) => {
            super::run::paths_and_filter(&a.args, &|p| host.exists(p).unwrap_or(true))?;
            a.target.preflight(host, a.list)
        }
        Command::Cleanup(a) => a.target.preflight(host, false),
        Command::Doctor(a) => a.target.preflight(host, false),
        Command::Node(a) => super::node::preflight(a, host),
        Command::Cluster(a) => super::cluster::preflight(a),
        Command::List(_) | Command::Validate(_) | Command::Schema(_) | Command::Compare(_) => {
            Ok(())
        }
    }
}

/// `--crio` and `--crio-conf`: what can be known without running anything.
pub fn crio(
    given: Option<&CrioSource>,
    variant: &CrioVariant,
    host: &Host,
) -> Result<(), CliError> {
    let env = |e| CliError::environment("the local node", e);
    if let Some(c) = given {
        c.check(|p| host.exists(p)).map_err(env)?;
    }
    match variant.conf.iter().find(|f| host.exists(f) == Some(false)) {
        Some(f) => Err(env(crio::unreadable_conf(f))),
        None => Ok(()),
    }
}
