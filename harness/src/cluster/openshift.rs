//! OpenShift MachineConfigs for the annotation path: subordinate ids for
//! `containers` and a CRI-O drop-in allowing the annotation.

use base64::Engine;

pub const SUBIDS: &str = "containers:200000:268435456\n";
pub const CRIO_DROPIN: &str = include_str!("../../../clusters/kind-crio/crio-userns.conf");

fn data_url(text: &str) -> String {
    format!(
        "data:text/plain;charset=utf-8;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

fn machine_config(role: &str, name: &str, files: &[(&str, &str)]) -> String {
    let mut out = format!(
        "apiVersion: machineconfiguration.openshift.io/v1\nkind: MachineConfig\nmetadata:\n  name: 99-{role}-{name}\n  labels:\n    machineconfiguration.openshift.io/role: {role}\nspec:\n  config:\n    ignition:\n      version: 3.2.0\n    storage:\n      files:\n"
    );
    for (path, text) in files {
        out.push_str(&format!("        - path: {path}\n          mode: 420\n          overwrite: true\n          contents:\n            source: {}\n", data_url(text)));
    }
    out
}

/// The manifests for one role (`worker`, `master`), as one YAML stream.
pub fn render(role: &str) -> String {
    [
        machine_config(
            role,
            "userns-subids",
            &[("/etc/subuid", SUBIDS), ("/etc/subgid", SUBIDS)],
        ),
        machine_config(
            role,
            "crio-userns",
            &[("/etc/crio/crio.conf.d/99-userns.conf", CRIO_DROPIN)],
        ),
    ]
    .join("---\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_decodable_files() {
        let y = render("worker");
        assert!(
            y.contains("name: 99-worker-userns-subids")
                && y.contains("machineconfiguration.openshift.io/role: worker")
        );
        let b64 = y
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("source: data:text/plain;charset=utf-8;base64,")
            })
            .unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            "containers:200000:268435456\n"
        );
    }
}
