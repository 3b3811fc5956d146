//! `cluster` with fake `docker`, `kind` and `oc` on PATH that record their
//! arguments and can be made to fail.

use std::path::PathBuf;
use std::process::Command;

struct Fakes {
    dir: tempfile::TempDir,
}

impl Fakes {
    fn new() -> Fakes {
        let dir = tempfile::tempdir().unwrap();
        for tool in ["docker", "kind", "oc"] {
            let script = format!(
                "#!/bin/sh\necho \"{tool} $*\" >> \"$FAKE_LOG\"\nif [ \"$FAKE_FAIL\" = {tool} ]; then echo \"{tool}: simulated failure: no space left on device\" >&2; exit 7; fi\nif [ {tool} = oc ]; then cat > \"$FAKE_LOG.stdin\"; fi\nexit 0\n"
            );
            let p = dir.path().join(tool);
            std::fs::write(&p, script).unwrap();
            let mut perm = std::fs::metadata(&p).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
            std::fs::set_permissions(&p, perm).unwrap();
        }
        Fakes { dir }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("calls.log")
    }

    fn run(&self, args: &[&str], fail: Option<&str>) -> (i32, String, String, String) {
        let path = format!(
            "{}:{}",
            self.dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let o = Command::new(env!("CARGO_BIN_EXE_userns-e2e"))
            .args(args)
            .env("PATH", path)
            .env("FAKE_LOG", self.log())
            .env("FAKE_FAIL", fail.unwrap_or(""))
            .output()
            .unwrap();
        let calls = std::fs::read_to_string(self.log()).unwrap_or_default();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
            calls,
        )
    }
}

fn mask_tmp(text: &str) -> String {
    regex::Regex::new(r"/tmp/userns-e2e-kind-crio-[A-Za-z0-9]+")
        .unwrap()
        .replace_all(text, "TMP")
        .into_owned()
}

#[test]
fn up_builds_the_image_then_creates_the_cluster() {
    let f = Fakes::new();
    let (code, _, err, calls) = f.run(
        &[
            "cluster",
            "up",
            "kind-crio",
            "--crio",
            "1.33",
            "--name",
            "c133",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let calls: Vec<String> = calls.lines().map(mask_tmp).collect();
    assert_eq!(
        calls,
        vec![
            "docker build --tag userns-e2e/kind-crio:v1.33 --build-arg NODE_IMAGE=kindest/node:v1.33.4 --build-arg CRIO_VERSION=v1.33 TMP/context",
            "kind create cluster --name c133 --image userns-e2e/kind-crio:v1.33 --config TMP/kind-config.yaml --wait 180s",
        ]
    );
}

#[test]
fn a_failing_tool_is_reported_with_its_stderr() {
    let f = Fakes::new();
    let (code, _, err, calls) = f.run(
        &["cluster", "up", "kind-crio", "--crio", "1.32"],
        Some("kind"),
    );
    assert_eq!(code, 3);
    assert!(
        err.contains("kind: simulated failure: no space left on device"),
        "{err}"
    );
    assert!(err.contains("failed with exit code 7"), "{err}");
    assert_eq!(
        calls.lines().count(),
        2,
        "docker ran, then kind failed: {calls}"
    );
    let (code, _, err, _) = Fakes::new().run(
        &["cluster", "up", "kind-crio", "--crio", "1.33"],
        Some("docker"),
    );
    assert_eq!(code, 3);
    assert!(err.contains("docker: simulated failure"), "{err}");
}

#[test]
fn dry_run_prints_and_runs_nothing() {
    let f = Fakes::new();
    let (code, out, _, calls) = f.run(
        &["cluster", "up", "kind-crio", "--crio", "1.33", "--dry-run"],
        None,
    );
    assert_eq!(code, 0);
    assert!(calls.is_empty(), "nothing may run in --dry-run: {calls}");
    assert!(out.contains("kind create cluster --name userns-e2e"));
    insta::assert_snapshot!("up_dry_run_1_33", mask_tmp(&out));
    let (_, out, _, _) = f.run(
        &["cluster", "up", "kind-crio", "--crio", "1.31", "--dry-run"],
        None,
    );
    assert!(
        out.contains("#   featureGates: {\"UserNamespacesSupport\": true}"),
        "{out}"
    );
}

#[test]
fn unknown_version_is_bad_input() {
    let (code, _, err, calls) =
        Fakes::new().run(&["cluster", "up", "kind-crio", "--crio", "1.99"], None);
    assert_eq!(code, 2);
    assert!(err.contains("supported: 1.33"), "{err}");
    assert!(calls.is_empty());
}

#[test]
fn down_deletes_the_cluster() {
    let f = Fakes::new();
    let (code, _, _, calls) = f.run(&["cluster", "down", "--name", "c133"], None);
    assert_eq!(code, 0);
    assert_eq!(calls.trim(), "kind delete cluster --name c133");
    let (_, out, _, _) = Fakes::new().run(&["cluster", "down", "--dry-run"], None);
    assert_eq!(out, "kind delete cluster --name userns-e2e\n");
}

#[test]
fn prepare_openshift_renders_and_applies_machine_configs() {
    let f = Fakes::new();
    let (code, out, _, calls) = f.run(&["cluster", "prepare", "openshift", "--dry-run"], None);
    assert_eq!(code, 0);
    assert!(calls.is_empty());
    assert!(
        out.contains("kind: MachineConfig") && out.contains("/etc/crio/crio.conf.d/99-userns.conf")
    );
    use base64::Engine;
    let decoded: Vec<String> = out
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("source: data:text/plain;charset=utf-8;base64,")
        })
        .map(|b| {
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).unwrap()).unwrap()
        })
        .collect();
    assert!(decoded.iter().any(|d| d == "containers:200000:268435456\n"));
    assert!(decoded
        .iter()
        .any(|d| d.contains("allowed_annotations = [\"io.kubernetes.cri-o.userns-mode\"]")));
    let (code, _, _, calls) = f.run(
        &["cluster", "prepare", "openshift", "--role", "master"],
        None,
    );
    assert_eq!(code, 0);
    assert_eq!(calls.trim(), "oc apply -f -");
    let stdin = std::fs::read_to_string(format!("{}.stdin", f.log().display())).unwrap();
    assert!(stdin.contains("name: 99-master-userns-subids"));
}
