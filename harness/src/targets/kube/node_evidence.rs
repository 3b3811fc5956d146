//! Optional host-side evidence (`--node-evidence`): the container process'
//! `/proc/<pid>/uid_map`, gid_map and status read on the node itself —
//! through `docker exec` on kind, `oc debug node/…` on OpenShift — and, once
//! per run, the node facts the API does not report: its subordinate ids and
//! CRI-O's effective configuration (`crio status config`).

use std::collections::BTreeMap;

use crate::facts::SubIdRange;
use crate::observation::HostView;
use crate::parse::{idmap, subid};

/// How to reach a node's shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeShell {
    /// kind: the node is a docker container named like the node.
    Docker { program: String },
    /// OpenShift: a debug pod with the host mounted at /host.
    OcDebug { program: String },
}

/// The script run on the node: the pid from `crictl inspect`, then the files.
pub fn script(container_id: &str) -> String {
    let id: String = container_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    format!(
        "pid=$(crictl inspect --output go-template --template '{{{{.info.pid}}}}' {id}) && echo \"pid $pid\" && echo '--uid_map' && cat /proc/$pid/uid_map && echo '--gid_map' && cat /proc/$pid/gid_map && echo '--status' && grep -E '^(Uid|Gid):' /proc/$pid/status"
    )
}

/// The script that reads the node's facts: `/etc/subuid`, `/etc/subgid` (a
/// missing file prints nothing: no ranges) and CRI-O's configuration (nothing
/// when the node has no `crio`).
pub const FACTS_SCRIPT: &str = "echo '--subuid' && cat /etc/subuid 2>/dev/null; echo '--subgid' && cat /etc/subgid 2>/dev/null; echo '--crio-config' && crio status config 2>/dev/null; true";

/// What [`FACTS_SCRIPT`] found on a node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeReadout {
    pub subuids: Option<BTreeMap<String, Vec<SubIdRange>>>,
    pub subgids: Option<BTreeMap<String, Vec<SubIdRange>>>,
    /// CRI-O's effective configuration; `None` when the node printed none.
    pub runtime_config: Option<serde_json::Value>,
}

/// Parses what [`FACTS_SCRIPT`] printed.
pub fn parse_readout(output: &str, source: &str) -> NodeReadout {
    let mut sections: BTreeMap<&str, String> = BTreeMap::new();
    let mut section = None;
    for line in output.lines() {
        match line.trim() {
            s @ ("--subuid" | "--subgid" | "--crio-config") => {
                section = Some(s);
                sections.entry(s).or_default();
            }
            _ => {
                if let Some(s) = section {
                    let buf = sections.entry(s).or_default();
                    buf.push_str(line);
                    buf.push('\n');
                }
            }
        }
    }
    let ids = |k: &str| sections.get(k).and_then(|t| subid::parse(t).ok());
    NodeReadout {
        subuids: ids("--subuid"),
        subgids: ids("--subgid"),
        runtime_config: sections
            .get("--crio-config")
            .filter(|t| !t.trim().is_empty())
            .and_then(|t| crate::targets::cri::runtime_view::parse_config(source, t).ok()),
    }
}

/// The command line for a container's evidence on a node.
pub fn command(shell: &NodeShell, node: &str, container_id: &str) -> (String, Vec<String>) {
    shell_command(shell, node, script(container_id))
}

/// The command line that runs `s` on a node.
fn shell_command(shell: &NodeShell, node: &str, s: String) -> (String, Vec<String>) {
    match shell {
        NodeShell::Docker { program } => (
            program.clone(),
            vec!["exec".into(), node.into(), "sh".into(), "-c".into(), s],
        ),
        NodeShell::OcDebug { program } => (
            program.clone(),
            vec![
                "debug".into(),
                format!("node/{node}"),
                "--quiet".into(),
                "--".into(),
                "chroot".into(),
                "/host".into(),
                "sh".into(),
                "-c".into(),
                s,
            ],
        ),
    }
}

/// Parses what [`script`] printed.
pub fn parse(output: &str, source: &str) -> HostView {
    let mut section = "";
    let (mut uid, mut gid, mut status) = (String::new(), String::new(), String::new());
    let mut pid = None;
    for line in output.lines() {
        match line.trim() {
            "--uid_map" | "--gid_map" | "--status" => section = line.trim(),
            l if l.starts_with("pid ") => pid = l[4..].trim().parse().ok(),
            l => {
                let buf = match section {
                    "--uid_map" => &mut uid,
                    "--gid_map" => &mut gid,
                    "--status" => &mut status,
                    _ => continue,
                };
                buf.push_str(l);
                buf.push('\n');
            }
        }
    }
    HostView {
        pid,
        uid_map: idmap::parse(&uid).ok(),
        gid_map: idmap::parse(&gid).ok(),
        host_uid: crate::targets::cri::host::effective_id(&status, "Uid:"),
        host_gid: crate::targets::cri::host::effective_id(&status, "Gid:"),
        source: source.to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("cannot run {program}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} {verb} failed: {stderr}")]
    Failed {
        program: String,
        verb: String,
        stderr: String,
    },
}

/// Runs the evidence script on the node (blocking; call from spawn_blocking).
pub fn read(shell: &NodeShell, node: &str, container_id: &str) -> Result<HostView, EvidenceError> {
    let out = run_on(shell, node, script(container_id))?;
    Ok(parse(&out, &source_of(shell, node)))
}

/// Reads the node's facts (blocking; call from spawn_blocking).
pub fn read_facts(shell: &NodeShell, node: &str) -> Result<NodeReadout, EvidenceError> {
    let out = run_on(shell, node, FACTS_SCRIPT.to_string())?;
    Ok(parse_readout(&out, &source_of(shell, node)))
}

fn source_of(shell: &NodeShell, node: &str) -> String {
    match shell {
        NodeShell::Docker { .. } => format!("docker exec {node}"),
        NodeShell::OcDebug { .. } => format!("oc debug node/{node}"),
    }
}

fn run_on(shell: &NodeShell, node: &str, s: String) -> Result<String, EvidenceError> {
    let (program, args) = shell_command(shell, node, s);
    let out = duct::cmd(&program, &args)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|source| EvidenceError::Spawn {
            program: program.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(EvidenceError::Failed {
            verb: args.first().cloned().unwrap_or_default(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            program,
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_readout_gives_subids_and_the_crio_config() {
        let out = "--subuid\ncontainers:200000:65536\n--subgid\n--crio-config\n[crio.runtime]\n  default_sysctls = [\"net.ipv4.ping_group_range=0 2147483647\"]\n";
        let r = parse_readout(out, "oc debug node/n");
        let uids = r.subuids.unwrap();
        assert_eq!(uids["containers"][0].start, 200000);
        // An empty (or missing) /etc/subgid: known, with no ranges.
        assert_eq!(r.subgids, Some(BTreeMap::new()));
        assert_eq!(
            r.runtime_config.unwrap()["crio"]["runtime"]["default_sysctls"][0],
            "net.ipv4.ping_group_range=0 2147483647"
        );
        // No crio on the node: no config, and not an error.
        let r = parse_readout("--subuid\n--subgid\n--crio-config\n", "docker exec n");
        assert_eq!(r.runtime_config, None);
        // Output that never reached the sections: nothing known.
        assert_eq!(parse_readout("", "x"), NodeReadout::default());
    }

    #[test]
    fn commands_and_parsing() {
        let (p, a) = command(
            &NodeShell::Docker {
                program: "docker".into(),
            },
            "crio-1.33-worker",
            "cri-o://4f1e;rm -rf /",
        );
        assert_eq!(p, "docker");
        assert_eq!(&a[..4], &["exec", "crio-1.33-worker", "sh", "-c"]);
        assert!(
            a[4].contains(
                "crictl inspect --output go-template --template '{{.info.pid}}' crio4f1ermrf"
            ),
            "{}",
            a[4]
        );
        let (p, a) = command(
            &NodeShell::OcDebug {
                program: "oc".into(),
            },
            "worker-0",
            "abc",
        );
        assert_eq!(
            (p.as_str(), a[1].as_str(), a[4].as_str()),
            ("oc", "node/worker-0", "chroot")
        );
        let v = parse("pid 4242\n--uid_map\n         0     265536      65536\n--gid_map\n 0 265536 65536\n--status\nUid:\t265536\t265536\t265536\t265536\nGid:\t265536\t265536\t265536\t265536\n", "docker exec n");
        assert_eq!(v.pid, Some(4242));
        assert_eq!(v.uid_map.unwrap().to_string(), "0 265536 65536");
        assert_eq!(v.host_uid, Some(265536));
        assert_eq!(v.source, "docker exec n");
    }
}
