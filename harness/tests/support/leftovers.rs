//! What a stopped local node can leave behind, shared by the real-runtime
//! tiers (`real_node`, `real_crio`).

use std::path::Path;

use userns_e2e::targets::local::Node;

/// Processes naming the node's folder, mounts under it, and its bridge, one
/// line each; empty when clean.
pub fn node_leftovers(node: &Node) -> Vec<String> {
    let d = node.dir().display().to_string();
    let mut out = Vec::new();
    if let Ok(o) = std::process::Command::new("pgrep")
        .args(["-af", &d])
        .output()
    {
        out.extend(
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| !l.contains("pgrep"))
                .map(|l| format!("process: {l}")),
        );
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    out.extend(
        mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&format!("{d}/")))
            .map(|m| format!("mount: {m}")),
    );
    if let Some(b) = node.status().ok().and_then(|s| s.bridge) {
        if Path::new(&format!("/sys/class/net/{b}")).exists() {
            out.push(format!("bridge: {b}"));
        }
    }
    out
}
