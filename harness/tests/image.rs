//! `deploy/mkimage.sh`: the harness's image as an OCI image layout, built
//! without a registry. Built here from this build's binary (stripped, to keep
//! the disk use small), then checked as a runtime would read it: every blob
//! is the content its digest names, the config's diff_id is the layer, the
//! layer holds the binary, the suite, CA certificates and every library the
//! binary links; and the binary runs from the unpacked layer with the
//! image's own loader and libraries only. skopeo (which loads it into a
//! CRI-O node's storage) must read it and copy it into a containers-storage.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
    let bytes = std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap();
    let actual: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(actual, hex, "blob {digest} holds other content");
    bytes
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn mkimage_builds_an_oci_layout_whose_binary_runs_on_its_own_libraries() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("userns-e2e");
    let strip = Command::new("strip")
        .arg("-o")
        .arg(&bin)
        .arg(env!("CARGO_BIN_EXE_userns-e2e"))
        .status()
        .expect("strip (binutils)");
    assert!(strip.success());
    let out = dir.path().join("out");
    let built = Command::new("bash")
        .arg(repo().join("deploy/mkimage.sh"))
        .arg(&out)
        .arg(&bin)
        .arg("localhost/userns-e2e:test")
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let layout = out.join("userns-e2e");
    assert_eq!(
        json(&std::fs::read(layout.join("oci-layout")).unwrap())["imageLayoutVersion"],
        "1.0.0"
    );
    let index = json(&std::fs::read(layout.join("index.json")).unwrap());
    let entry = &index["manifests"][0];
    assert_eq!(
        entry["annotations"]["io.containerd.image.name"],
        "localhost/userns-e2e:test"
    );
    let manifest = json(&blob(&layout, entry["digest"].as_str().unwrap()));
    let config = json(&blob(
        &layout,
        manifest["config"]["digest"].as_str().unwrap(),
    ));
    let layer_digest = manifest["layers"][0]["digest"].as_str().unwrap();
    let layer = blob(&layout, layer_digest);
    assert_eq!(config["rootfs"]["diff_ids"][0], layer_digest);
    assert_eq!(config["config"]["User"], "65532:65532");
    assert_eq!(config["config"]["Entrypoint"][0], "/usr/bin/userns-e2e");

    // Unpack the layer and look at it as the container would.
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let mut archive = tar::Archive::new(&layer[..]);
    let mut results_owner = None;
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().into_owned();
        if path == Path::new("./results/") || path == Path::new("./results") {
            results_owner = Some(e.header().uid().unwrap());
        }
        e.unpack_in(&root).unwrap();
    }
    assert_eq!(results_owner, Some(65532));
    assert!(root.join("etc/ssl/certs/ca-certificates.crt").is_file());
    let suite = root.join("usr/share/userns-e2e/scenarios");
    assert!(suite.join("scenario.schema.json").is_file());

    // The loader and libraries the image carries resolve every library.
    let libs: Vec<PathBuf> = walk(&root)
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(".so"))
        .collect();
    let loader = libs
        .iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("ld-linux")
        })
        .expect("the dynamic loader in the image")
        .clone();
    let dirs: BTreeSet<String> = libs
        .iter()
        .map(|p| p.parent().unwrap().display().to_string())
        .collect();
    let lib_path = dirs.into_iter().collect::<Vec<_>>().join(":");
    let binary = root.join("usr/bin/userns-e2e");
    let listed = Command::new(&loader)
        .args(["--inhibit-cache", "--library-path", &lib_path, "--list"])
        .arg(&binary)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{text}");
    assert!(text.contains("libc.so"), "{text}");
    for line in text.lines().filter(|l| l.contains("=>")) {
        let resolved = line
            .split("=>")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        assert!(
            resolved.starts_with(&root.display().to_string()),
            "{line}: resolved outside the image"
        );
    }
    // And it runs there: the suite in the image, as `ote list` sees it.
    let ran = Command::new(&loader)
        .args(["--inhibit-cache", "--library-path", &lib_path])
        .arg(&binary)
        .args(["ote", "list", "-o", "jsonl"])
        .env("USERNS_E2E_SCENARIOS", &suite)
        .output()
        .unwrap();
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let specs = String::from_utf8(ran.stdout).unwrap().lines().count();
    let files = walk(&repo().join("scenarios"))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .count();
    assert_eq!(specs, files);

    match Command::new("skopeo")
        .arg("inspect")
        .arg(format!("oci:{}", layout.display()))
        .output()
    {
        Ok(o) => {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let seen = json(&o.stdout);
            assert_eq!(seen["Layers"][0], layer_digest);
            // Into a containers-storage, CRI-O's image store, as the local
            // CRI-O node loads its images (clusters/local/crio.sh), here a
            // private vfs store in the test's folder.
            let store = format!(
                "containers-storage:[vfs@{}+{}]localhost/userns-e2e:test",
                dir.path().join("storage").display(),
                dir.path().join("run").display()
            );
            let copied = Command::new("skopeo")
                .args(["copy", "-q"])
                .arg(format!("oci:{}", layout.display()))
                .arg(&store)
                .output()
                .unwrap();
            assert!(
                copied.status.success(),
                "{}",
                String::from_utf8_lossy(&copied.stderr)
            );
            let stored = Command::new("skopeo")
                .arg("inspect")
                .arg(&store)
                .output()
                .unwrap();
            assert!(
                stored.status.success(),
                "{}",
                String::from_utf8_lossy(&stored.stderr)
            );
            let stored = json(&stored.stdout);
            assert_eq!(stored["Name"], "localhost/userns-e2e");
            assert_eq!(stored["Env"], config["config"]["Env"]);
        }
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("skopeo is needed to check the layout (CI=true)")
        }
        Err(e) => eprintln!("skopeo not run ({e}): the layout was checked without it"),
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
