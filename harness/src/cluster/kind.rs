//! kind clusters whose nodes run CRI-O (`clusters/kind-crio/`, embedded).

use std::path::Path;

use super::tools::Step;

pub const VERSIONS: &str = include_str!("../../../clusters/kind-crio/versions.txt");
/// The recipe files, written into a build context at `cluster up`.
pub const RECIPE: &[(&str, &str)] = &[
    (
        "Dockerfile",
        include_str!("../../../clusters/kind-crio/Dockerfile"),
    ),
    (
        "crio-userns.conf",
        include_str!("../../../clusters/kind-crio/crio-userns.conf"),
    ),
    (
        "crio-userns-new-key.conf",
        include_str!("../../../clusters/kind-crio/crio-userns-new-key.conf"),
    ),
    ("subuid", include_str!("../../../clusters/kind-crio/subuid")),
];
const KIND_CONFIG: &str = include_str!("../../../clusters/kind-crio/kind-config.yaml");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrioVersion {
    pub minor: String,
    pub node_image: String,
    pub feature_gates: Vec<(String, bool)>,
}

pub fn versions() -> Vec<CrioVersion> {
    VERSIONS
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let gates = f.get(2).filter(|g| **g != "-").map(|g| {
                g.split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v == "true"))
                    .collect()
            });
            Some(CrioVersion {
                minor: f.first()?.to_string(),
                node_image: f.get(1)?.to_string(),
                feature_gates: gates.unwrap_or_default(),
            })
        })
        .collect()
}

pub fn find(minor: &str) -> Result<CrioVersion, String> {
    let wanted = minor.trim_start_matches('v');
    let all = versions();
    all.iter()
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
        })
}

pub fn image_tag(v: &CrioVersion) -> String {
    format!("userns-e2e/kind-crio:v{}", v.minor)
}

/// The kind config for a version: the recipe's with its feature gates.
pub fn render_config(v: &CrioVersion) -> String {
    let gates = if v.feature_gates.is_empty() {
        "{}".to_string()
    } else {
        format!(
            "{{{}}}",
            v.feature_gates
                .iter()
                .map(|(k, on)| format!("\"{k}\": {on}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    KIND_CONFIG.replace("featureGates: {}", &format!("featureGates: {gates}"))
}

/// docker build, then kind create cluster.
pub fn up_steps(v: &CrioVersion, name: &str, context: &Path, config: &Path) -> Vec<Step> {
    let tag = image_tag(v);
    let ctx = context.display().to_string();
    let cfg = config.display().to_string();
    vec![
        Step::new(
            "docker",
            &[
                "build",
                "--tag",
                &tag,
                "--build-arg",
                &format!("NODE_IMAGE={}", v.node_image),
                "--build-arg",
                &format!("CRIO_VERSION=v{}", v.minor),
                &ctx,
            ],
        ),
        Step::new(
            "kind",
            &[
                "create", "cluster", "--name", name, "--image", &tag, "--config", &cfg, "--wait",
                "180s",
            ],
        ),
    ]
}

pub fn down_steps(name: &str) -> Vec<Step> {
    vec![Step::new("kind", &["delete", "cluster", "--name", name])]
}

/// Writes the build context and the kind config into `dir`.
pub fn write_recipe(
    v: &CrioVersion,
    dir: &Path,
) -> Result<(std::path::PathBuf, std::path::PathBuf), String> {
    let ctx = dir.join("context");
    std::fs::create_dir_all(&ctx).map_err(|e| format!("cannot create {}: {e}", ctx.display()))?;
    for (name, text) in RECIPE {
        std::fs::write(ctx.join(name), text).map_err(|e| format!("cannot write {name}: {e}"))?;
    }
    let cfg = dir.join("kind-config.yaml");
    std::fs::write(&cfg, render_config(v))
        .map_err(|e| format!("cannot write {}: {e}", cfg.display()))?;
    Ok((ctx, cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_config() {
        let v = find("1.32").unwrap();
        assert_eq!(
            v.feature_gates,
            vec![("UserNamespacesSupport".to_string(), true)]
        );
        assert!(render_config(&v).contains("featureGates: {\"UserNamespacesSupport\": true}"));
        assert!(render_config(&find("v1.33").unwrap()).contains("featureGates: {}"));
        assert!(find("1.99").unwrap_err().contains("supported: 1.33, 1.34"));
    }
}
