//! `cluster` with fake `docker`, `kind` and `oc` on PATH that record their
//! arguments and can be made to fail.

#[path = "support/versions_txt.rs"]
mod versions_txt;

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
                "#!/bin/sh\necho \"{tool} $*\" >> \"$FAKE_LOG\"\nif [ \"$FAKE_FAIL\" = {tool} ]; then echo \"{tool}: simulated failure: no space left on device\" >&2; exit 7; fi\nif [ {tool} = docker ] && [ \"$1 $2\" = \"image inspect\" ] && [ -z \"$FAKE_HAVE_IMAGE\" ]; then echo 'Error: No such image' >&2; exit 1; fi\nif [ {tool} = docker ] && [ \"$1\" = exec ] && [ -n \"$FAKE_KUBE_PROXY_DOWN\" ]; then echo 'error: timed out waiting for the condition' >&2; exit 1; fi\nif [ {tool} = oc ]; then cat > \"$FAKE_LOG.stdin\"; fi\nexit 0\n"
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
        self.run_env(args, fail, &[])
    }

    fn run_env(
        &self,
        args: &[&str],
        fail: Option<&str>,
        env: &[(&str, &str)],
    ) -> (i32, String, String, String) {
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
            .envs(env.iter().copied())
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
            "docker build --tag userns-e2e/kind-crio:v1.33 --build-arg NODE_IMAGE=kindest/node:v1.33.12@sha256:3f5c8443c620245e4d355cfe09e96a91ead32ceaa569d3f1ca9edf0cb2fe2ff4 --build-arg CRIO_VERSION=v1.33 TMP/context",
            "kind create cluster --name c133 --image userns-e2e/kind-crio:v1.33 --config TMP/kind-config.yaml --wait 180s",
            "docker exec c133-control-plane kubectl --kubeconfig=/etc/kubernetes/admin.conf --namespace=kube-system rollout status daemonset/kube-proxy --timeout=90s",
        ]
    );
    assert!(
        err.contains("kube-proxy up (Services and cluster DNS usable by scenarios): yes"),
        "{err}"
    );
}

#[test]
fn kube_proxy_down_is_reported_not_fatal() {
    let (code, _, err, calls) = Fakes::new().run_env(
        &[
            "cluster",
            "up",
            "kind-crio",
            "--crio",
            "1.36",
            "--name",
            "c136",
        ],
        None,
        &[("FAKE_KUBE_PROXY_DOWN", "1")],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(calls.lines().count(), 3, "{calls}");
    assert!(
        err.contains("kube-proxy up (Services and cluster DNS usable by scenarios): NO (error: timed out waiting for the condition)"),
        "{err}"
    );
}

#[test]
fn reuse_image_skips_the_build_only_when_the_tag_exists() {
    let args = [
        "cluster",
        "up",
        "kind-crio",
        "--crio",
        "1.35",
        "--name",
        "c",
        "--reuse-image",
    ];
    let (code, _, err, calls) = Fakes::new().run_env(&args, None, &[("FAKE_HAVE_IMAGE", "1")]);
    assert_eq!(code, 0, "{err}");
    let programs: Vec<String> = calls
        .lines()
        .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        programs,
        ["docker image", "kind create", "docker exec"],
        "{calls}"
    );
    let (code, _, err, calls) = Fakes::new().run(&args, None);
    assert_eq!(code, 0, "{err}");
    assert!(
        calls
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("docker build ")),
        "{calls}"
    );
    let (_, out, _, _) = Fakes::new().run(&[&args[..], &["--dry-run"]].concat(), None);
    assert!(
        out.contains(
            "docker image inspect userns-e2e/kind-crio:v1.35 >/dev/null 2>&1 || docker build"
        ),
        "{out}"
    );
}

#[test]
fn a_failing_tool_is_reported_with_its_stderr() {
    let f = Fakes::new();
    let (code, _, err, calls) = f.run(
        &["cluster", "up", "kind-crio", "--crio", "1.34"],
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
        &[
            "cluster",
            "up",
            "kind-crio",
            "--crio",
            "1.33",
            "--userns-gate",
            "off",
            "--dry-run",
        ],
        None,
    );
    assert!(
        out.contains("#   featureGates: {\"UserNamespacesSupport\": false}"),
        "{out}"
    );
    let (code, _, err, _) = f.run(
        &[
            "cluster",
            "up",
            "kind-crio",
            "--crio",
            "1.36",
            "--userns-gate",
            "off",
            "--dry-run",
        ],
        None,
    );
    assert_eq!(code, 2, "1.36 has no gate-off leg (GA): {err}");
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

fn repo_file(rel: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn versions_txt() -> (Vec<String>, Vec<versions_txt::Row>) {
    versions_txt::read(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
}

/// The `# file <path>:` sections of a dry run: path suffix → contents.
fn planned_files(out: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = vec![];
    for l in out.lines() {
        if let Some(path) = l.strip_prefix("# file ").and_then(|p| p.strip_suffix(':')) {
            files.push((path.to_string(), String::new()));
        } else if let (Some(text), Some(last)) = (l.strip_prefix("#   "), files.last_mut()) {
            last.1.push_str(text);
            last.1.push('\n');
        } else if l == "#  " || l == "#" {
            if let Some(last) = files.last_mut() {
                last.1.push('\n');
            }
        }
    }
    files
}

fn file<'a>(files: &'a [(String, String)], suffix: &str) -> Option<&'a str> {
    files
        .iter()
        .find(|(p, _)| p.ends_with(suffix))
        .map(|(_, t)| t.as_str())
}

/// (name, first id, count) of subuid lines.
fn subid_ranges(text: &str) -> Vec<(String, u64, u64)> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.trim().split(':').collect();
            assert_eq!(f.len(), 3, "subuid line {l:?}");
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect()
}

/// Issue 14, second acceptance point: what `cluster up kind-crio --dry-run`
/// plans for every leg of every row of versions.txt.
#[test]
fn dry_run_plan_for_every_row_of_versions_txt() {
    let (releases, rows) = versions_txt();
    assert_eq!(releases, ["v0.32.0"], "one pinned kind release");
    assert!(!rows.is_empty());
    let workflow = repo_file(".github/workflows/conformance.yml");
    assert!(
        workflow.contains(&format!("KIND_VERSION: {}", releases[0])),
        "the workflow installs the kind release whose images are pinned"
    );
    let image_re =
        regex::Regex::new(r"^kindest/node:v(\d+)\.(\d+)\.\d+@sha256:[0-9a-f]{64}$").unwrap();
    let useradd_re = regex::Regex::new(r"useradd\b[^&]*\bkubelet\b").unwrap();
    let uidmap_re = regex::Regex::new(r"apt-get[^&]*install[^&]*\buidmap\b").unwrap();
    let mut gates_seen = std::collections::BTreeSet::new();
    let f = Fakes::new();
    for row in &rows {
        let minor = row.minor.clone();
        let caps = image_re.captures(&row.image).unwrap_or_else(|| {
            panic!("{minor}: {} is not kindest/node:vX.Y.Z@sha256:…", row.image)
        });
        assert_eq!(
            format!("{}.{}", &caps[1], &caps[2]),
            minor,
            "Kubernetes minor = CRI-O minor"
        );
        assert!(!row.legs.is_empty(), "{minor}: no legs");
        for leg in &row.legs {
            gates_seen.insert(leg.clone());
            assert!(
                workflow.contains(&format!("- {{ crio: \"{minor}\", gate: \"{leg}\" }}")),
                "{minor} gate {leg}: not in the workflow matrix"
            );
            let (code, out, err, calls) = f.run(
                &[
                    "cluster",
                    "up",
                    "kind-crio",
                    "--crio",
                    &minor,
                    "--userns-gate",
                    leg,
                    "--dry-run",
                ],
                None,
            );
            assert_eq!(code, 0, "{minor} {leg}: {err}");
            assert!(calls.is_empty());
            let ctx = format!("{minor} gate {leg}");

            // CRI-O packages: the OBS project isv:cri-o, stable:/vX.Y
            // (cri-o tutorials/crio-in-kind.md from v1.34; cri-o/packaging README).
            let repo = out
                .lines()
                .find_map(|l| l.strip_prefix("# CRI-O packages: "))
                .unwrap_or_else(|| panic!("{ctx}: no package repository planned:\n{out}"));
            assert!(
                repo.starts_with("https://")
                    && repo.ends_with(&format!("/repositories/isv:/cri-o:/stable:/v{minor}/deb")),
                "{ctx}: {repo}"
            );
            assert!(
                !repo.contains("addons:/cri-o"),
                "{ctx}: the retired repository: {repo}"
            );

            // The node image: the row's digest-pinned image of the one kind release.
            assert!(
                out.contains(&format!("kind {} node image {}", releases[0], row.image)),
                "{ctx}"
            );
            let build = out
                .lines()
                .find(|l| l.starts_with("docker build "))
                .unwrap();
            assert!(
                build.contains(&format!("--build-arg NODE_IMAGE={} ", row.image)),
                "{ctx}: {build}"
            );

            let files = planned_files(&out);
            // Subordinate ids: containers and kubelet, disjoint, 65536-aligned.
            let ranges = subid_ranges(file(&files, "/subuid").expect("subuid planned"));
            let get = |name: &str| {
                ranges
                    .iter()
                    .find(|r| r.0 == name)
                    .unwrap_or_else(|| panic!("{ctx}: no {name} range"))
                    .clone()
            };
            let (c, k) = (get("containers"), get("kubelet"));
            for (name, start, count) in [&c, &k] {
                assert!(
                    start % 65536 == 0 && count % 65536 == 0 && *count > 0,
                    "{ctx}: {name} {start}:{count}"
                );
            }
            assert!(
                c.1 + c.2 <= k.1 || k.1 + k.2 <= c.1,
                "{ctx}: ranges overlap: {c:?} {k:?}"
            );
            assert!(
                k.2 >= 110 * 65536,
                "{ctx}: kubelet range below 110 pods × 65536"
            );

            // The node image: kubelet user, uidmap (getsubids), subuid copied after useradd.
            let dockerfile = file(&files, "/Dockerfile").expect("Dockerfile planned");
            let joined = dockerfile.replace("\\\n", " ");
            let run = joined
                .lines()
                .find(|l| l.starts_with("RUN ") && l.contains("useradd"))
                .unwrap_or_else(|| panic!("{ctx}: no RUN with useradd"));
            assert!(useradd_re.is_match(run), "{ctx}: {run}");
            assert!(
                uidmap_re.is_match(run),
                "{ctx}: uidmap (getsubids) not installed: {run}"
            );
            assert!(run.contains("command -v getsubids"), "{ctx}");
            let pos = |needle: &str| {
                joined
                    .find(needle)
                    .unwrap_or_else(|| panic!("{ctx}: {needle}"))
            };
            assert!(pos("useradd") < pos("COPY subuid /etc/subuid"), "{ctx}");
            assert!(pos("useradd") < pos("COPY subuid /etc/subgid"), "{ctx}");
            assert!(
                joined.contains("COPY crio.conf.d/ /etc/crio/crio.conf.d/"),
                "{ctx}"
            );

            // Drop-ins: the old key always, the new key only for CRI-O ≥ 1.35.
            let old = file(&files, "/crio.conf.d/20-userns.conf").expect("old-key drop-in");
            assert!(old.contains("io.kubernetes.cri-o.userns-mode"));
            let new = file(&files, "/crio.conf.d/21-userns-new-key.conf");
            assert_eq!(
                new.is_some(),
                row.minor_pair() >= (1, 35),
                "{ctx}: new-key drop-in"
            );
            if let Some(n) = new {
                assert!(
                    n.contains("allowed_annotations = [\"userns-mode.crio.io\"]"),
                    "{ctx}"
                );
            }

            // The gate: off legs turn it off; on legs keep the 1.33+ default.
            let config = file(&files, "/kind-config.yaml").expect("kind config planned");
            let gate_off = config.contains("featureGates: {\"UserNamespacesSupport\": false}");
            assert_eq!(gate_off, leg == "off", "{ctx}: {config}");
            if leg == "on" {
                assert!(
                    row.minor_pair() >= (1, 33)
                        || config.contains("\"UserNamespacesSupport\": true"),
                    "{ctx}"
                );
            }
            assert!(
                config.contains("criSocket: unix:///var/run/crio/crio.sock"),
                "{ctx}"
            );
        }
    }
    assert_eq!(
        gates_seen.into_iter().collect::<Vec<_>>(),
        ["off", "on"],
        "legs with the gate off (annotation) and on (hostUsers: false) both exist"
    );
}
