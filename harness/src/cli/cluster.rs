//! `cluster up|down|prepare`.

use crate::cluster::{kind, openshift, tools};
use crate::exit::{CliError, Status};

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
        /// The kubelet's UserNamespacesSupport gate: `on` (hostUsers: false pods) or
        /// `off` (CRI-O's annotation decides); the legs per version are in versions.txt.
        #[arg(long, value_enum, default_value = "on")]
        userns_gate: GateArg,
        /// kind cluster name.
        #[arg(long, default_value = "userns-e2e")]
        name: String,
        /// Skip `docker build` when the node image tag already exists (e.g. loaded
        /// from a CI cache).
        #[arg(long)]
        reuse_image: bool,
        /// Print the commands instead of running them.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum GateArg {
    On,
    Off,
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

/// A tool (docker, kind, oc) that failed: its own words, exit 3.
fn finish(result: Result<(), tools::ToolError>) -> Result<Status, CliError> {
    result
        .map(|()| Status::Ok)
        .map_err(|e| CliError::environment("making the cluster", e))
}

fn commented(text: &str) -> String {
    text.lines().map(|l| format!("#   {l}\n")).collect()
}

/// What `cluster up kind-crio --dry-run` plans besides the commands: the leg,
/// the package repository, every file of the build context and the kind config.
fn plan_header(leg: &kind::Leg, ctx: &std::path::Path, cfg: &std::path::Path) -> String {
    let mut out = format!(
        "# kind-crio: CRI-O {} with UserNamespacesSupport {}, kind {} node image {}\n",
        leg.minor(),
        if leg.gate_on { "on" } else { "off" },
        kind::kind_release().unwrap_or_else(|| "(unknown release)".into()),
        leg.version.node_image
    );
    out.push_str(&format!(
        "# CRI-O packages: {}\n",
        leg.crio_repo()
            .unwrap_or_else(|| "(no ARG CRIO_REPO in the Dockerfile)".into())
    ));
    for (name, text) in kind::context_files(leg) {
        out.push_str(&format!(
            "# file {}/{name}:\n{}",
            ctx.display(),
            commented(text)
        ));
    }
    out.push_str(&format!(
        "# file {}:\n{}",
        cfg.display(),
        commented(&kind::render_config(leg))
    ));
    out
}

/// What `cluster` checks before it touches a system: a kind-crio leg must
/// be one versions.txt lists.
pub fn preflight(args: &ClusterArgs) -> Result<(), CliError> {
    if let ClusterAction::Up {
        kind: UpKind::KindCrio {
            crio, userns_gate, ..
        },
    } = &args.action
    {
        kind::find(crio, matches!(userns_gate, GateArg::On)).map_err(CliError::Usage)?;
    }
    Ok(())
}

pub fn cluster(args: ClusterArgs) -> Result<Status, CliError> {
    match args.action {
        ClusterAction::Up {
            kind:
                UpKind::KindCrio {
                    crio,
                    userns_gate,
                    name,
                    reuse_image,
                    dry_run,
                },
        } => {
            let v =
                kind::find(&crio, matches!(userns_gate, GateArg::On)).map_err(CliError::Usage)?;
            let dir = tempfile::Builder::new()
                .prefix("userns-e2e-kind-crio-")
                .tempdir()
                .map_err(|e| CliError::file("cannot create a build folder", e))?;
            let (ctx, cfg) = kind::write_recipe(&v, dir.path())
                .map_err(|e| CliError::environment("the kind recipe", e))?;
            let steps = kind::up_steps(&v, &name, &ctx, &cfg, reuse_image);
            if dry_run {
                crate::cli::print_stdout(&format!(
                    "{}{}",
                    plan_header(&v, &ctx, &cfg),
                    tools::print(&steps)
                ));
                return Ok(Status::Ok);
            }
            finish(tools::run(&steps, None))
        }
        ClusterAction::Down { name, dry_run } => {
            let steps = kind::down_steps(&name);
            if dry_run {
                crate::cli::print_stdout(&tools::print(&steps));
                return Ok(Status::Ok);
            }
            finish(tools::run(&steps, None))
        }
        ClusterAction::Prepare {
            kind: PrepareKind::Openshift { role, dry_run },
        } => {
            let manifests = openshift::render(&role);
            if dry_run {
                crate::cli::print_stdout(&manifests);
                return Ok(Status::Ok);
            }
            let mut step = tools::Step::new("oc", &["apply", "-f", "-"]);
            step.stdin = Some(manifests);
            finish(tools::run(&[step], None))
        }
    }
}
