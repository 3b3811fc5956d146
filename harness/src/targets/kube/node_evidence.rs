//! Optional host-side evidence (`--node-evidence`): the container process'
//! `/proc/<pid>/uid_map`, gid_map and status read on the node itself —
//! through `docker exec` on kind, `oc debug node/…` on OpenShift.

use crate::observation::HostView;
use crate::parse::idmap;

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

/// The command line for a node.
pub fn command(shell: &NodeShell, node: &str, container_id: &str) -> (String, Vec<String>) {
    let s = script(container_id);
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

/// Runs the script on the node (blocking; call from spawn_blocking).
pub fn read(shell: &NodeShell, node: &str, container_id: &str) -> Result<HostView, EvidenceError> {
    let (program, args) = command(shell, node, container_id);
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
    let source = match shell {
        NodeShell::Docker { .. } => format!("docker exec {node}"),
        NodeShell::OcDebug { .. } => format!("oc debug node/{node}"),
    };
    Ok(parse(&String::from_utf8_lossy(&out.stdout), &source))
}

#[cfg(test)]
mod tests {
    use super::*;

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
