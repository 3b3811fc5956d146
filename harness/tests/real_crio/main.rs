//! The suite on real CRI-O: for each build in the shared folder
//! (`$USERNS_E2E_SHARED/crio/v*/crio-v*-linux-amd64.tar.xz`, else
//! `<repo>/../shared/crio`), unpack it (checked against its SHA256SUMS), start
//! the harness's CRI-O node through the CLI, run the whole suite through the
//! CLI serially and with the default threads, stop the node and check nothing
//! of it is left. Then `compare` the versions: the differences it reports must
//! be exactly those the scenarios' `cases:` predict. Last, on the newest
//! build, diagnoses and `doctor` end to end (`diagnoses.rs`).
//!
//! Missing shared folder: skipped with a message, a failure with `CI=true`.
//! Needs root (it runs crio and makes user namespaces).

#[path = "../support/absent.rs"]
mod absent;
#[path = "../support/crio_node.rs"]
mod crio_node;
mod diagnoses;
#[path = "../support/leftovers.rs"]
mod leftovers;
#[path = "../support/predicted.rs"]
mod predicted;
mod versions;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn shared_crio(repo: &Path) -> PathBuf {
    std::env::var_os("USERNS_E2E_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("../shared"))
        .join("crio")
}

fn main() -> ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let shared = shared_crio(&repo);
    let builds = versions::builds(&shared);
    if builds.is_empty() {
        let why = format!(
            "no CRI-O builds (v*/crio-v*-linux-amd64.tar.xz) found under {}; set USERNS_E2E_SHARED",
            shared.display()
        );
        return if absent::skipped_or_fails("real_crio", &why) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }
    if !userns_e2e::targets::local::is_root() {
        eprintln!("real_crio: these tests need root (they run crio and make user namespaces)");
        return ExitCode::FAILURE;
    }
    let ctx = versions::Ctx {
        bin: PathBuf::from(env!("CARGO_BIN_EXE_userns-e2e")),
        repo,
        base: std::env::var_os("USERNS_E2E_TEST_CRIO_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/var/tmp/userns-e2e-test-crio")),
    };
    // The versions run one after another (one CRI-O node at a time keeps the
    // machine's load, and the `containers` allocator, to one version), then
    // the comparison, which reads their results.
    let subids =
        || ["/etc/subuid", "/etc/subgid"].map(|f| std::fs::read_to_string(f).unwrap_or_default());
    let before = subids();
    let mut trials = versions::trials(&ctx, builds.clone());
    trials.extend(diagnoses::trials(&ctx, &builds));
    let args = libtest_mimic::Arguments {
        test_threads: Some(1),
        ..args
    };
    let conclusion = libtest_mimic::run(&args, trials);
    let mut failed = conclusion.has_failed();
    for e in versions::purge_host_changes(&ctx, &builds) {
        eprintln!("real_crio: {e}");
        failed = true;
    }
    if subids() != before {
        eprintln!("real_crio: /etc/subuid or /etc/subgid differ from before the tests");
        failed = true;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
