//! kind clusters whose nodes run CRI-O (`clusters/kind-crio/`, embedded).

use std::path::{Path, PathBuf};

use super::tools::Step;

pub const VERSIONS: &str = include_str!("../../../clusters/kind-crio/versions.txt");
const DOCKERFILE: &str = include_str!("../../../clusters/kind-crio/Dockerfile");
const SUBUID: &str = include_str!("../../../clusters/kind-crio/subuid");
const DROPIN_OLD_KEY: &str = include_str!("../../../clusters/kind-crio/crio-userns.conf");
const DROPIN_NEW_KEY: &str = include_str!("../../../clusters/kind-crio/crio-userns-new-key.conf");
const KIND_CONFIG: &str = include_str!("../../../clusters/kind-crio/kind-config.yaml");

/// The kubelet feature gate that decides who picks a pod's user namespace.
const GATE: &str = "UserNamespacesSupport";
/// First Kubernetes minor with `UserNamespacesSupport` on by default (beta on 1.33–1.35).
const GATE_DEFAULT_ON_FROM: (u32, u32) = (1, 33);
/// First CRI-O minor with the `userns-mode.crio.io` annotation key.
const NEW_KEY_FROM: (u32, u32) = (1, 35);

/// One row of versions.txt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrioVersion {
    pub minor: String,
    pub node_image: String,
    /// The `UserNamespacesSupport` settings this minor is run with.
    pub legs: Vec<bool>,
}

/// One matrix leg: a CRI-O minor with the kubelet gate on or off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    pub version: CrioVersion,
    pub gate_on: bool,
}

/// The kind release whose node images versions.txt pins.
pub fn kind_release() -> Option<String> {
    VERSIONS.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        (f.next() == Some("kind-release"))
            .then(|| f.next().map(str::to_string))
            .flatten()
    })
}

pub fn versions() -> Vec<CrioVersion> {
    VERSIONS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("kind-release"))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(CrioVersion {
                minor: f.first()?.to_string(),
                node_image: f.get(1)?.to_string(),
                legs: f
                    .get(2)?
                    .split(',')
                    .filter_map(|g| match g {
                        "on" => Some(true),
                        "off" => Some(false),
                        _ => None,
                    })
                    .collect(),
            })
        })
        .collect()
}

fn parse_minor(minor: &str) -> Option<(u32, u32)> {
    let (a, b) = minor.trim_start_matches('v').split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The leg for `minor` with the gate `on`/`off`, or why there is none.
pub fn find(minor: &str, gate_on: bool) -> Result<Leg, String> {
    let wanted = minor.trim_start_matches('v');
    let all = versions();
    let version = all
        .iter()
        .find(|v| v.minor == wanted)
        .cloned()
        .ok_or_else(|| {
            format!(
                "no kind-crio recipe for CRI-O {minor}; supported: {}",
                all.iter()
                    .map(|v| v.minor.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    if !version.legs.contains(&gate_on) {
        return Err(format!(
            "CRI-O {wanted}: the {GATE} gate cannot be turned {} on Kubernetes {wanted} \
             (clusters/kind-crio/versions.txt lists the legs)",
            if gate_on { "on" } else { "off" }
        ));
    }
    Ok(Leg { version, gate_on })
}

impl Leg {
    pub fn minor(&self) -> &str {
        &self.version.minor
    }

    /// The kubelet feature gates the kind config sets: only a departure from
    /// the gate's default for this Kubernetes minor.
    pub fn feature_gates(&self) -> Vec<(String, bool)> {
        let default_on = parse_minor(self.minor()).is_some_and(|m| m >= GATE_DEFAULT_ON_FROM);
        if self.gate_on == default_on {
            vec![]
        } else {
            vec![(GATE.to_string(), self.gate_on)]
        }
    }

    /// CRI-O workload drop-ins installed in /etc/crio/crio.conf.d: the new
    /// annotation key only where CRI-O knows it.
    pub fn dropins(&self) -> Vec<(&'static str, &'static str)> {
        let mut d = vec![("20-userns.conf", DROPIN_OLD_KEY)];
        if parse_minor(self.minor()).is_some_and(|m| m >= NEW_KEY_FROM) {
            d.push(("21-userns-new-key.conf", DROPIN_NEW_KEY));
        }
        d
    }

    /// The CRI-O package repository the Dockerfile's default `CRIO_REPO` gives.
    pub fn crio_repo(&self) -> Option<String> {
        DOCKERFILE.lines().find_map(|l| {
            l.trim()
                .strip_prefix("ARG CRIO_REPO=")
                .map(|r| r.replace("${CRIO_VERSION}", &format!("v{}", self.minor())))
        })
    }
}

pub fn image_tag(leg: &Leg) -> String {
    format!("userns-e2e/kind-crio:v{}", leg.minor())
}

/// The kind config for a leg: the recipe's with its feature gates.
pub fn render_config(leg: &Leg) -> String {
    let gates = leg
        .feature_gates()
        .iter()
        .map(|(k, on)| format!("\"{k}\": {on}"))
        .collect::<Vec<_>>()
        .join(", ");
    KIND_CONFIG.replace("featureGates: {}", &format!("featureGates: {{{gates}}}"))
}

/// docker build (skipped with `reuse_image` when the tag exists, e.g. restored
/// from a CI cache), kind create cluster, then whether kube-proxy came up:
/// CRI-O in kind cannot run it (tutorials/crio-in-kind.md), so that is a
/// report, not a failure.
pub fn up_steps(
    leg: &Leg,
    name: &str,
    context: &Path,
    config: &Path,
    reuse_image: bool,
) -> Vec<Step> {
    let tag = image_tag(leg);
    let ctx = context.display().to_string();
    let cfg = config.display().to_string();
    let mut build = Step::new(
        "docker",
        &[
            "build",
            "--tag",
            &tag,
            "--build-arg",
            &format!("NODE_IMAGE={}", leg.version.node_image),
            "--build-arg",
            &format!("CRIO_VERSION=v{}", leg.minor()),
            &ctx,
        ],
    );
    if reuse_image {
        build.unless = Some(Box::new(Step::new("docker", &["image", "inspect", &tag])));
    }
    let mut kube_proxy = Step::new(
        "docker",
        &[
            "exec",
            &format!("{name}-control-plane"),
            "kubectl",
            "--kubeconfig=/etc/kubernetes/admin.conf",
            "--namespace=kube-system",
            "rollout",
            "status",
            "daemonset/kube-proxy",
            "--timeout=90s",
        ],
    );
    kube_proxy.report =
        Some("kube-proxy up (Services and cluster DNS usable by scenarios)".to_string());
    vec![
        build,
        Step::new(
            "kind",
            &[
                "create", "cluster", "--name", name, "--image", &tag, "--config", &cfg, "--wait",
                "180s",
            ],
        ),
        kube_proxy,
    ]
}

pub fn down_steps(name: &str) -> Vec<Step> {
    vec![Step::new("kind", &["delete", "cluster", "--name", name])]
}

/// The build context of a leg: (path inside the context, contents).
pub fn context_files(leg: &Leg) -> Vec<(String, &'static str)> {
    let mut files = vec![
        ("Dockerfile".to_string(), DOCKERFILE),
        ("subuid".to_string(), SUBUID),
    ];
    files.extend(
        leg.dropins()
            .into_iter()
            .map(|(n, t)| (format!("crio.conf.d/{n}"), t)),
    );
    files
}

/// A file of the recipe that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}", path.display())]
pub struct WriteError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// Writes the build context and the kind config into `dir`.
pub fn write_recipe(leg: &Leg, dir: &Path) -> Result<(PathBuf, PathBuf), WriteError> {
    let write = |path: &Path, text: &str| {
        let fail = |source| WriteError {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(fail)?;
        }
        std::fs::write(path, text).map_err(fail)
    };
    let ctx = dir.join("context");
    for (name, text) in context_files(leg) {
        write(&ctx.join(&name), text)?;
    }
    let cfg = dir.join("kind-config.yaml");
    write(&cfg, &render_config(leg))?;
    Ok((ctx, cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legs_and_config() {
        let off = find("1.33", false).unwrap();
        assert_eq!(off.feature_gates(), vec![(GATE.to_string(), false)]);
        assert!(render_config(&off).contains("featureGates: {\"UserNamespacesSupport\": false}"));
        assert!(render_config(&find("v1.36", true).unwrap()).contains("featureGates: {}"));
        assert!(find("1.36", false)
            .unwrap_err()
            .contains("cannot be turned off"));
        assert!(find("1.99", true)
            .unwrap_err()
            .contains("supported: 1.33, 1.34"));
        assert_eq!(kind_release().as_deref(), Some("v0.32.0"));
    }
}
