//! Tests against the real local node: containerd + runc, provisioned and
//! started by this test binary and stopped at its end. A node that cannot
//! start is a failure, never a skip. After every trial the binary checks that
//! nothing of the harness is left: no process, mount, network namespace or
//! bridge of the node.

mod cri_cases;
mod fault_cases;
#[path = "../support/leftovers.rs"]
mod leftovers;
mod node_cases;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use userns_e2e::targets::local::{sharing, Node};

/// What trials get to know about the running node.
#[derive(Debug, Clone)]
pub struct NodeCtx {
    pub socket: String,
    pub dir: PathBuf,
    pub bin: PathBuf,
    pub repo: PathBuf,
}

/// Node folders of their own (the fault trials kill or freeze their
/// runtime) are removed after their trial unless this is set, so a `cargo
/// test` leaves only the shared node folder (README, Development).
pub fn purge_unless_kept(dir: &Path) {
    if std::env::var_os("USERNS_E2E_KEEP_TEST_NODES").is_none() {
        if let Err(e) = std::fs::remove_dir_all(dir) {
            eprintln!("real_node: could not remove {}: {e}", dir.display());
        }
    }
}

fn node_dir(suffix: &str) -> PathBuf {
    let base = std::env::var_os("USERNS_E2E_TEST_NODE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/userns-e2e-test-node"));
    PathBuf::from(format!("{}{suffix}", base.display()))
}

/// Everything of a node that can outlive it, as lines; empty when clean.
pub fn leftovers(dir: &Path) -> Vec<String> {
    leftovers::node_leftovers(&Node::new(dir))
}

/// Waits for `child`, killing it when it outlives `limit`: nothing may hang.
pub fn wait_for_exit(
    child: &mut std::process::Child,
    limit: Duration,
) -> Result<std::process::ExitStatus, String> {
    let started = Instant::now();
    loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(s);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            return Err(format!("the run did not end within {} s", limit.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads the first stderr line of a `run` (`target: … (run ID)`) and returns
/// the run id, with the rest of stderr.
pub fn run_id_of(
    child: &mut std::process::Child,
) -> Result<(String, std::io::BufReader<std::process::ChildStderr>), String> {
    use std::io::BufRead;
    let mut err = std::io::BufReader::new(child.stderr.take().ok_or("no stderr")?);
    let mut first = String::new();
    err.read_line(&mut first).map_err(|e| e.to_string())?;
    let id = first
        .trim()
        .rsplit_once("(run ")
        .and_then(|(_, r)| r.strip_suffix(')'))
        .ok_or_else(|| format!("no run id in {first:?}"))?
        .to_string();
    Ok((id, err))
}

/// Sandboxes of run `run_id` still on the runtime at `socket`.
pub fn sandboxes_of_run(ctx: &NodeCtx, socket: &str, run_id: &str) -> Result<Vec<String>, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let options = userns_e2e::targets::cri::CriOptions {
            state_dir: ctx.dir.join("cri-tests"),
            ..Default::default()
        };
        let t = userns_e2e::targets::cri::CriTarget::connect(socket, options).await?;
        t.sandboxes_of_run(run_id).await
    })
    .map_err(|e| e.chain())
}

fn main() -> ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    if !userns_e2e::targets::local::is_root() {
        eprintln!(
            "real_node: these tests need root (they start containerd and make user namespaces)"
        );
        return ExitCode::FAILURE;
    }
    let dir = node_dir("");
    let node = Node::new(&dir);
    // This binary is one of the node's runs, as `run --target local` is: the
    // runs its trials start on this folder share the node and leave it
    // running, and this binary, the last to leave, stops it.
    let socket = match sharing::join(&dir, || node.start()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("real_node: the local node could not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ctx = NodeCtx {
        socket,
        dir: dir.clone(),
        bin: PathBuf::from(env!("CARGO_BIN_EXE_userns-e2e")),
        repo: Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    };
    let mut trials = cri_cases::trials(&ctx);
    trials.extend(node_cases::trials(&ctx, node_dir("-kill")));
    trials.extend(fault_cases::trials(&ctx, node_dir("-freeze")));
    let conclusion = libtest_mimic::run(&args, trials);
    let stopped = match sharing::leave(&dir, false, || node.stop()) {
        Ok(sharing::Left::Stopped) => Ok(()),
        Ok(other) => {
            let _ = node.stop();
            Err(format!(
                "the node was not left to this binary alone: {other:?}"
            ))
        }
        Err(e) => Err(e.to_string()),
    };
    let left = leftovers(&dir);
    let mut failed = conclusion.has_failed();
    if let Err(e) = stopped {
        eprintln!("real_node: stopping the node failed: {e}");
        failed = true;
    }
    if !left.is_empty() {
        eprintln!(
            "real_node: the node left things behind:\n  {}",
            left.join("\n  ")
        );
        failed = true;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
