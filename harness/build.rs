//! Compiles the CRI proto with protox (pure Rust), so building needs no protoc;
//! lists the diagnosis catalog (`../diagnoses/*.yaml`) for embedding, so a new
//! entry file is in the binary without editing code; and records the build's
//! source for `ote info` (commit, tree state, date).

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/cri_v1.proto");
    let fds = protox::compile(["proto/cri_v1.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_server(false)
        .compile_fds(fds)?;
    source_info();
    embed_scenarios()?;
    embed_diagnoses()
}

/// The suite (`../scenarios/<topic>/*.yaml`) for `ote` where no suite folder
/// is at hand (an extension binary extracted alone, as openshift-tests does).
fn embed_scenarios() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<(String, std::path::PathBuf)> = Vec::new();
    for topic in std::fs::read_dir(&dir)?.flatten() {
        let tp = topic.path();
        if !tp.is_dir() {
            continue;
        }
        println!("cargo:rerun-if-changed={}", tp.display());
        for f in std::fs::read_dir(&tp)?.flatten() {
            let p = f.path();
            if p.extension().is_some_and(|e| e == "yaml") {
                let rel = p.strip_prefix(&dir)?.to_string_lossy().into_owned();
                files.push((rel, p.canonicalize()?));
            }
        }
    }
    files.sort();
    let mut out = String::from("[\n");
    for (rel, path) in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        out.push_str(&format!(
            "    ({rel:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push(']');
    let out_dir = std::env::var("OUT_DIR")?;
    std::fs::write(Path::new(&out_dir).join("scenarios.rs"), out)?;
    Ok(())
}

fn embed_diagnoses() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../diagnoses");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    let mut out = String::from("[\n");
    for n in &names {
        let path = dir.join(n).canonicalize()?;
        println!("cargo:rerun-if-changed={}", path.display());
        out.push_str(&format!(
            "    ({n:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push(']');
    let out_dir = std::env::var("OUT_DIR")?;
    std::fs::write(Path::new(&out_dir).join("diagnoses.rs"), out)?;
    Ok(())
}

/// `USERNS_E2E_GIT_COMMIT`, `…_GIT_TREE_STATE`, `…_BUILD_DATE` and
/// `…_SOURCE_URL` for the binary: from the environment when set (image
/// builds without `.git`), else from git; `unknown` when neither says.
fn source_info() {
    for key in [
        "USERNS_E2E_GIT_COMMIT",
        "USERNS_E2E_GIT_TREE_STATE",
        "USERNS_E2E_BUILD_DATE",
        "USERNS_E2E_SOURCE_URL",
        "SOURCE_DATE_EPOCH",
    ] {
        println!("cargo:rerun-if-env-changed={key}");
    }
    // A new commit or a staged change moves HEAD or the index; an edit, the sources.
    println!("cargo:rerun-if-changed=src");
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/index");
        if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
            if let Some(common) = git(&["rev-parse", "--git-common-dir"]) {
                println!("cargo:rerun-if-changed={common}/{r}");
            }
        }
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let commit = env("USERNS_E2E_GIT_COMMIT")
        .or_else(|| git(&["rev-parse", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let state = env("USERNS_E2E_GIT_TREE_STATE")
        .or_else(|| {
            git(&["status", "--porcelain", "--untracked-files=no"])
                .map(|s| if s.is_empty() { "clean" } else { "dirty" }.to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let date = env("USERNS_E2E_BUILD_DATE").unwrap_or_else(|| {
        let t = env("SOURCE_DATE_EPOCH")
            .and_then(|s| s.parse::<u64>().ok())
            .map(|s| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s))
            .unwrap_or_else(std::time::SystemTime::now);
        humantime::format_rfc3339_seconds(t).to_string()
    });
    let url = env("USERNS_E2E_SOURCE_URL").unwrap_or_default();
    println!("cargo:rustc-env=USERNS_E2E_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=USERNS_E2E_GIT_TREE_STATE={state}");
    println!("cargo:rustc-env=USERNS_E2E_BUILD_DATE={date}");
    println!("cargo:rustc-env=USERNS_E2E_SOURCE_URL={url}");
}
