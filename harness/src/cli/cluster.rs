//! `cluster up|down|prepare`.

use crate::cluster::{kind, openshift, tools};
use crate::exit;

#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub action: ClusterAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum ClusterAction {
    /// Build a node image and create a cluster.
    Up {
        #[command(subcommand)]
        kind: UpKind,
    },
    /// Delete a kind cluster.
    Down {
        #[arg(long, default_value = "userns-e2e")]
        name: String,
        /// Print the commands instead of running them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Prepare an existing cluster.
    Prepare {
        #[command(subcommand)]
        kind: PrepareKind,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum UpKind {
    /// kind whose nodes run CRI-O (clusters/kind-crio/).
    KindCrio {
        /// CRI-O minor version, e.g. 1.33 (see clusters/kind-crio/versions.txt).
        #[arg(long)]
        crio: String,
        /// kind cluster name.
        #[arg(long, default_value = "userns-e2e")]
        name: String,
        /// Print the commands instead of running them.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum PrepareKind {
    /// Apply the MachineConfigs for CRI-O's userns annotation (clusters/openshift/).
    Openshift {
        /// Machine config pool role.
        #[arg(long, default_value = "worker")]
        role: String,
        /// Print the manifests instead of applying them.
        #[arg(long)]
        dry_run: bool,
    },
}

fn finish(result: Result<(), String>) -> i32 {
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {e}");
            exit::TARGET_UNUSABLE
        }
    }
}

pub fn cluster(args: ClusterArgs) -> i32 {
    match args.action {
        ClusterAction::Up {
            kind:
                UpKind::KindCrio {
                    crio,
                    name,
                    dry_run,
                },
        } => {
            let v = match kind::find(&crio) {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("error: {e}");
                    return exit::BAD_INPUT;
                }
            };
            let dir = match tempfile::Builder::new()
                .prefix("userns-e2e-kind-crio-")
                .tempdir()
            {
                Ok(d) => d,
                Err(e) => return finish(Err(format!("cannot create a build folder: {e}"))),
            };
            let (ctx, cfg) = match kind::write_recipe(&v, dir.path()) {
                Ok(p) => p,
                Err(e) => return finish(Err(e)),
            };
            let steps = kind::up_steps(&v, &name, &ctx, &cfg);
            if dry_run {
                crate::cli::print_stdout(&format!(
                    "# kind config ({}):\n{}{}",
                    cfg.display(),
                    kind::render_config(&v)
                        .lines()
                        .map(|l| format!("#   {l}\n"))
                        .collect::<String>(),
                    tools::print(&steps)
                ));
                return exit::OK;
            }
            finish(tools::run(&steps, None))
        }
        ClusterAction::Down { name, dry_run } => {
            let steps = kind::down_steps(&name);
            if dry_run {
                crate::cli::print_stdout(&tools::print(&steps));
                return exit::OK;
            }
            finish(tools::run(&steps, None))
        }
        ClusterAction::Prepare {
            kind: PrepareKind::Openshift { role, dry_run },
        } => {
            let manifests = openshift::render(&role);
            if dry_run {
                crate::cli::print_stdout(&manifests);
                return exit::OK;
            }
            let mut step = tools::Step::new("oc", &["apply", "-f", "-"]);
            step.stdin = Some(manifests);
            finish(tools::run(&[step], None))
        }
    }
}
