//! `--crio <version>`: CRI-O's release bundle from a mirror, here a loopback
//! HTTP server serving bundles under their upstream names
//! (`cri-o.<arch>.v<version>.tar.gz` + `.sha256sum`, top folder `cri-o/`).
//!
//! The download tests use small stand-in bundles. The last test builds a real
//! bundle from the shared CRI-O v1.36.3 build plus the conmon/runc/crun the
//! node provisions and the host's CNI plugins, and runs the suite with
//! `--crio 1.36.3` as with `--crio <path>`; without the shared builds it is
//! skipped (a failure with `CI=true`).

#[path = "support/crio_node.rs"]
mod crio_node;
#[path = "support/http.rs"]
mod http;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};
use userns_e2e::targets::local::bundle::{self, BundleError};
use userns_e2e::verdict::Verdict;
use userns_e2e::version::Version;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes the bundle of `version` into `mirror`, laid out as upstream's
/// (`cri-o/<path>` for each file), and its `.sha256sum` as `sha256sum`
/// writes it; returns the tarball's URL name and its sum.
fn write_bundle(mirror: &Path, version: &str, files: &[(String, Vec<u8>)]) -> (String, String) {
    let name = format!("cri-o.{}.v{version}.tar.gz", bundle::arch().unwrap());
    let mut tarball = Vec::new();
    {
        let gz = flate2::write::GzEncoder::new(&mut tarball, flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        for (path, bytes) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o755);
            h.set_cksum();
            tar.append_data(&mut h, format!("cri-o/{path}"), bytes.as_slice())
                .unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
    }
    std::fs::create_dir_all(mirror).unwrap();
    std::fs::write(mirror.join(&name), &tarball).unwrap();
    let sum = hex(&tarball);
    std::fs::write(
        mirror.join(format!("{name}.sha256sum")),
        format!("{sum}  {name}\n"),
    )
    .unwrap();
    (name, sum)
}

fn stand_in(version: &str) -> Vec<(String, Vec<u8>)> {
    let script = |s: &str| format!("#!/bin/sh\n{s}\n").into_bytes();
    vec![
        (
            "bin/crio".into(),
            script(&format!("echo 'crio version {version}'")),
        ),
        ("bin/pinns".into(), script("exit 0")),
        ("bin/conmon".into(), script("echo 'conmon version 2.1.13'")),
        ("bin/runc".into(), script("echo 'runc version 1.3.6'")),
        ("cni-plugins/bridge".into(), script("exit 0")),
    ]
}

/// Everything under the cache folder, as relative paths.
fn cache_entries(cache: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(cache).into_iter().flatten().flatten() {
        out.push(e.file_name().to_string_lossy().into_owned());
    }
    out.sort();
    out
}

/// As root: `run --crio VERSION` against `mirror` ends with exit 3, saying
/// each of `wanted`, with nothing cached and no node made. (Not root: the
/// local node is refused before any download; skipped.)
fn cli_refuses(version: &str, mirror: &str, wanted: &[&str]) {
    if !userns_e2e::targets::local::is_root() {
        eprintln!("not root: the CLI part (the local node needs root) is skipped");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = local_run(
        version,
        &tmp.path().join("node"),
        &["scenarios/"],
        &[
            (bundle::MIRROR_ENV, Path::new(mirror)),
            ("XDG_CACHE_HOME", tmp.path()),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    for want in wanted {
        assert!(stderr.contains(want), "{want} in: {stderr}");
    }
    println!("the CLI for --crio {version} from {mirror}:\n{stderr}");
    assert_eq!(
        cache_entries(&tmp.path().join("userns-e2e/crio")),
        Vec::<String>::new()
    );
    assert!(!tmp.path().join("node").exists(), "no node was made");
}

#[test]
fn a_release_is_downloaded_once_verified_and_unpacked_in_the_upstream_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let mirror = tmp.path().join("mirror");
    let (name, sum) = write_bundle(&mirror, "1.36.3", &stand_in("1.36.3"));
    let server = http::Server::start(&mirror);
    let cache = tmp.path().join("cache");
    let v = Version::parse("1.36.3").unwrap();
    let b = bundle::fetch(&v, &server.url, &cache).unwrap();
    assert!(b.downloaded);
    assert_eq!(b.dir, cache.join("1.36.3"));
    assert_eq!(b.url, format!("{}/{name}", server.url));
    assert_eq!(b.sha256, sum);
    assert!(b.dir.join("cri-o/bin/crio").is_file());
    assert!(b.dir.join("cri-o/cni-plugins/bridge").is_file());
    assert!(!b.dir.join(&name).exists(), "the tarball is not kept");
    assert_eq!(
        server.requests(),
        vec![format!("/{name}.sha256sum"), format!("/{name}")]
    );
    assert_eq!(
        cache_entries(&cache),
        vec!["1.36.3"],
        "no partial folder left"
    );
    assert!(b.describe().contains(&sum) && b.describe().contains(&b.url));
    // The second time: from the cache, nothing asked of the mirror.
    let again = bundle::fetch(&v, &server.url, &cache).unwrap();
    assert!(!again.downloaded);
    assert_eq!((again.url, again.sha256), (b.url, b.sha256));
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn a_checksum_mismatch_is_refused_naming_the_url_and_both_sums_and_caches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mirror = tmp.path().join("mirror");
    let (name, sum) = write_bundle(&mirror, "1.35.6", &stand_in("1.35.6"));
    // Corrupt the tarball after its sum was written.
    let tarball = mirror.join(&name);
    let mut bytes = std::fs::read(&tarball).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&tarball, &bytes).unwrap();
    let actual = hex(&bytes);
    let server = http::Server::start(&mirror);
    let xdg = tmp.path().join("xdg");
    let cache = xdg.join("userns-e2e/crio");
    let v = Version::parse("1.35.6").unwrap();
    let url = format!("{}/{name}", server.url);
    match bundle::fetch(&v, &server.url, &cache) {
        Err(e @ BundleError::Checksum { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains(&url) && m.contains(&sum) && m.contains(&actual),
                "{m}"
            );
        }
        other => panic!("expected a checksum mismatch, got {other:?}"),
    }
    assert_eq!(cache_entries(&cache), Vec::<String>::new());

    // The same through the CLI, as a run would meet it: exit 3, nothing cached.
    cli_refuses("1.35.6", &server.url, &[&url, &sum, &actual]);
}

#[test]
fn a_missing_release_says_which_versions_the_mirror_lists() {
    let tmp = tempfile::tempdir().unwrap();
    let mirror = tmp.path().join("mirror");
    write_bundle(&mirror, "1.36.2", &stand_in("1.36.2"));
    write_bundle(&mirror, "1.36.3", &stand_in("1.36.3"));
    write_bundle(&mirror, "1.34.11", &stand_in("1.34.11"));
    let server = http::Server::start(&mirror);
    let cache = tmp.path().join("cache");
    let v = Version::parse("1.36.9").unwrap();
    let e = bundle::fetch(&v, &server.url, &cache).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, BundleError::NotFound { .. }), "{m}");
    assert!(m.contains("HTTP 404") && m.contains(&server.url), "{m}");
    assert!(
        m.contains("The mirror lists 1.36.2, 1.36.3 of 3 versions"),
        "{m}"
    );
    assert_eq!(cache_entries(&cache), Vec::<String>::new());
    cli_refuses(
        "1.36.9",
        &server.url,
        &["HTTP 404", "The mirror lists 1.36.2, 1.36.3"],
    );
}

#[test]
fn a_missing_release_without_a_listing_says_how_to_check() {
    let tmp = tempfile::tempdir().unwrap();
    let mirror = tmp.path().join("mirror");
    std::fs::create_dir_all(mirror.join("sub")).unwrap();
    let server = http::Server::start(&mirror);
    let base = format!("{}/sub", server.url);
    let e = bundle::fetch(
        &Version::parse("1.36.3").unwrap(),
        &base,
        &tmp.path().join("cache"),
    )
    .unwrap_err();
    let m = e.to_string();
    let tarball = format!("{base}/cri-o.{}.v1.36.3.tar.gz", bundle::arch().unwrap());
    assert!(
        m.contains(&format!("{tarball}.sha256sum does not exist (HTTP 404)"))
            && m.contains("No listing of the mirror answered")
            && m.contains(&format!("curl -fsI {tarball}")),
        "{m}"
    );
    // Both listings were tried: the bucket-style one at the parent, the folder's index.
    let asked = server.requests();
    assert!(
        asked.iter().any(|r| r.starts_with("/?prefix=sub/cri-o."))
            && asked.contains(&"/sub/".to_string()),
        "{asked:?}"
    );
}

#[test]
fn no_network_names_the_url_tried_and_caches_nothing() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let mirror = format!("http://127.0.0.1:{port}/cri-o/artifacts");
    let e = bundle::fetch(&Version::parse("1.36.3").unwrap(), &mirror, &cache).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, BundleError::Network { .. }), "{m}");
    assert!(
        m.contains(&format!(
            "{mirror}/cri-o.{}.v1.36.3.tar.gz.sha256sum",
            bundle::arch().unwrap()
        )) && m.contains(bundle::MIRROR_ENV),
        "{m}"
    );
    assert_eq!(cache_entries(&cache), Vec::<String>::new());
    cli_refuses(
        "1.36.3",
        &mirror,
        &[&format!("{mirror}/cri-o."), "no network"],
    );
}

// ---- the real runtime ----

fn shared_tarball() -> Option<PathBuf> {
    let shared = std::env::var_os("USERNS_E2E_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared"));
    let t = shared.join("crio/v1.36.3/crio-v1.36.3-linux-amd64.tar.xz");
    t.is_file().then_some(t)
}

fn cli(args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_userns-e2e"));
    c.args(args).current_dir(repo());
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// `run --target local --runtime cri-o --crio CRIO --node-dir NODE EXTRA…` from the repository.
fn local_run(crio: &str, node: &Path, extra: &[&str], envs: &[(&str, &Path)]) -> Output {
    let node = node.display().to_string();
    let mut args = crio_node::args("run", crio, &node);
    args.extend(extra);
    cli(&args, envs)
}

/// A run's closing line (`N passed, N failed, …`).
fn summary(out: &str) -> &str {
    out.lines()
        .rfind(|l| l.contains(" passed, "))
        .unwrap_or("(no summary line)")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The scenarios that passed; panics on a failed or errored one.
fn passes(results: &Path, what: &str) -> BTreeSet<String> {
    let r = userns_e2e::report::json::read(results)
        .unwrap_or_else(|e| panic!("{what}: {}: {e}", results.display()));
    let mut passed = BTreeSet::new();
    for res in &r.results {
        match &res.verdict {
            Verdict::Pass { .. } => {
                passed.insert(res.id.clone());
            }
            Verdict::Skip { .. } => {}
            other => panic!("{what}: {} did not pass: {other:?}", res.id),
        }
    }
    passed
}

fn stop_and_purge(node: &Path) {
    if node.exists() {
        let node_s = node.display().to_string();
        let o = cli(&crio_node::purge_args(&node_s), &[]);
        assert!(o.status.success(), "purge {node_s}: {}", text(&o));
    }
}

/// `run --target local --runtime cri-o --crio 1.36.3` from a loopback mirror
/// passes what `--crio <path>` passes; the second run downloads nothing;
/// `node status` says where the CRI-O came from.
#[test]
fn the_suite_on_a_release_version_passes_as_on_the_path_and_downloads_once() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let Some(tarball) = shared_tarball() else {
        let why = "crio_bundle: no shared CRI-O v1.36.3 build (USERNS_E2E_SHARED, else ../shared)";
        assert!(!ci, "{why}");
        eprintln!("skipped: {why}; with CI=true this is a failure");
        return;
    };
    assert!(
        userns_e2e::targets::local::is_root(),
        "this test needs root (it runs crio and makes user namespaces)"
    );
    let base = std::env::var_os("USERNS_E2E_TEST_BUNDLE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/userns-e2e-test-bundle"));
    let (node_path, node_release) = (base.join("node-path"), base.join("node-release"));
    // What an earlier, interrupted run left.
    stop_and_purge(&node_release);
    stop_and_purge(&node_path);
    let _ = std::fs::remove_dir_all(&base);
    let subids =
        || ["/etc/subuid", "/etc/subgid"].map(|f| std::fs::read_to_string(f).unwrap_or_default());
    let before = subids();

    // The shared build, checked as install.sh checks it.
    let build = base.join("build");
    std::fs::create_dir_all(&build).unwrap();
    let o = Command::new("tar")
        .arg("-xJf")
        .arg(&tarball)
        .arg("-C")
        .arg(&build)
        .output()
        .unwrap();
    assert!(o.status.success(), "unpack: {}", text(&o));
    let o = Command::new("sha256sum")
        .args(["-c", "--quiet"])
        .arg(tarball.with_file_name("SHA256SUMS"))
        .current_dir(&build)
        .output()
        .unwrap();
    assert!(o.status.success(), "SHA256SUMS: {}", text(&o));

    // 1. --crio <path>: the node provisions conmon, runc and crun from Debian.
    let (p, path_json) = (build.display().to_string(), base.join("path.json"));
    let pj = path_json.display().to_string();
    let o = local_run(&p, &node_path, &["--json", &pj, "scenarios/"], &[]);
    assert_eq!(o.status.code(), Some(0), "--crio <path>: {}", text(&o));
    println!("--crio <path>: {}", summary(&text(&o)));
    let by_path = passes(&path_json, "--crio <path>");

    // 2. An upstream-layout bundle of that build, with the runtime binaries
    //    the node provisioned and the host's CNI plugins, on a loopback mirror.
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for b in ["crio", "pinns"] {
        files.push((
            format!("bin/{b}"),
            std::fs::read(build.join("bin").join(b)).unwrap(),
        ));
    }
    for b in ["conmon", "runc", "crun"] {
        files.push((
            format!("bin/{b}"),
            std::fs::read(node_path.join("runtime/bin").join(b)).unwrap(),
        ));
    }
    for e in std::fs::read_dir("/usr/lib/cni").unwrap().flatten() {
        files.push((
            format!("cni-plugins/{}", e.file_name().to_string_lossy()),
            std::fs::read(e.path()).unwrap(),
        ));
    }
    let mirror = base.join("mirror");
    let (name, sum) = write_bundle(&mirror, "1.36.3", &files);
    let server = http::Server::start(&mirror);
    let xdg = base.join("xdg");
    let url_env = PathBuf::from(&server.url);
    let envs = [
        (bundle::MIRROR_ENV, url_env.as_path()),
        ("XDG_CACHE_HOME", xdg.as_path()),
    ];

    // 3. --crio 1.36.3: downloaded, verified, run; the same scenarios pass.
    let (r, release_json) = (
        node_release.display().to_string(),
        base.join("release.json"),
    );
    let rj = release_json.display().to_string();
    let o = local_run(
        "1.36.3",
        &node_release,
        &["--json", &rj, "scenarios/"],
        &envs,
    );
    let first = text(&o);
    assert_eq!(o.status.code(), Some(0), "--crio 1.36.3: {first}");
    assert!(first.contains("downloading CRI-O 1.36.3"), "{first}");
    assert!(first.contains(&format!("sha256 {sum} verified")), "{first}");
    assert!(
        first.contains(
            "from the CRI-O release bundle (conmon, runc, crun; CNI plugins: the bundle's"
        ),
        "the bundle's runtime binaries are used: {first}"
    );
    println!("--crio 1.36.3: {}", summary(&first));
    assert_eq!(
        passes(&release_json, "--crio 1.36.3"),
        by_path,
        "the same passes"
    );
    let o = cli(
        &["node", "status", "--runtime", "cri-o", "--node-dir", &r],
        &envs,
    );
    let status = text(&o);
    println!("node status:\n{status}");
    assert!(
        status.contains(&format!(
            "CRI-O from: CRI-O release bundle {}/{name} (sha256 {sum})",
            server.url
        )) && status
            .contains("conmon, OCI runtimes and CNI plugins from: the CRI-O release bundle"),
        "{status}"
    );

    // 4. Again: from the cache, the mirror is not asked.
    let asked = server.requests().len();
    let o = local_run("v1.36.3", &node_release, &["scenarios/", "story"], &envs);
    let second = text(&o);
    assert_eq!(o.status.code(), Some(0), "second run: {second}");
    assert!(!second.contains("downloading"), "{second}");
    println!("--crio v1.36.3 again (story): {}", summary(&second));
    assert_eq!(server.requests().len(), asked, "no request the second time");

    // 5. Nothing left: nodes purged (the release node first: its runtime
    //    binaries use the path node's libraries), host files as before.
    stop_and_purge(&node_release);
    stop_and_purge(&node_path);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let prefix = format!("{}/", base.display());
    assert!(
        !mounts
            .lines()
            .any(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(&prefix))),
        "mounts left under {prefix}"
    );
    let o = Command::new("pgrep")
        .args(["-af", &prefix])
        .output()
        .unwrap();
    let procs: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.contains("pgrep"))
        .map(str::to_string)
        .collect();
    assert!(procs.is_empty(), "processes left: {procs:?}");
    assert_eq!(subids(), before, "/etc/subuid and /etc/subgid as before");
    std::fs::remove_dir_all(&base).unwrap();
    let _ = std::io::stderr().flush();
}
