//! The host's view of a container process: `/proc/<pid>/{uid_map,gid_map,status}`.

use crate::observation::HostView;
use crate::parse::idmap;

/// The pid in ContainerStatus' verbose info (containerd and CRI-O both put
/// a JSON document with `pid` under the key `info`).
pub fn pid_from_info(info: &std::collections::HashMap<String, String>) -> Option<u32> {
    let doc: serde_json::Value = serde_json::from_str(info.get("info")?).ok()?;
    doc.get("pid")
        .and_then(|p| p.as_u64())
        .and_then(|p| u32::try_from(p).ok())
        .filter(|p| *p > 0)
}

/// `Uid:`/`Gid:` lines of /proc/<pid>/status → the effective id (second field).
pub fn effective_id(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

pub fn read(pid: u32) -> HostView {
    let read = |f: &str| std::fs::read_to_string(format!("/proc/{pid}/{f}")).ok();
    let status = read("status").unwrap_or_default();
    HostView {
        pid: Some(pid),
        uid_map: read("uid_map").and_then(|t| idmap::parse(&t).ok()),
        gid_map: read("gid_map").and_then(|t| idmap::parse(&t).ok()),
        host_uid: effective_id(&status, "Uid:"),
        host_gid: effective_id(&status, "Gid:"),
        source: "host /proc".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_info() {
        assert_eq!(
            effective_id(
                "Name:\tsleep\nUid:\t131072\t131073\t131072\t131072\nGid:\t5\t6\t5\t5\n",
                "Uid:"
            ),
            Some(131073)
        );
        let info = std::collections::HashMap::from([(
            "info".to_string(),
            r#"{"pid": 4242, "sandboxID": "x"}"#.to_string(),
        )]);
        assert_eq!(pid_from_info(&info), Some(4242));
        assert_eq!(pid_from_info(&Default::default()), None);
    }

    #[test]
    fn reads_our_own_process() {
        let v = read(std::process::id());
        assert!(v.uid_map.is_some() && v.host_uid.is_some());
    }
}
