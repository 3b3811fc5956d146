//! The observation as a person reads it: the evidence in JUnit's system-out
//! and in the Markdown details.

use std::fmt::Write;

use crate::observation::{Admission, Observation};

pub fn render(o: &Observation) -> String {
    let mut s = String::new();
    for p in &o.pods {
        let _ = writeln!(
            s,
            "pod {}{}",
            p.name,
            p.id.as_ref().map(|i| format!(" ({i})")).unwrap_or_default()
        );
        match &p.admission {
            Admission::Admitted => {
                let _ = writeln!(s, "  admission: admitted");
            }
            Admission::Refused { code, message } => {
                let _ = writeln!(
                    s,
                    "  admission: refused{}: {message}",
                    code.map(|c| format!(" ({c})")).unwrap_or_default()
                );
            }
        }
        if let Some(scc) = &p.scc {
            let _ = writeln!(s, "  scc: {scc}");
        }
        let _ = writeln!(s, "  outcome: {}", p.outcome);
        let i = &p.inside;
        if let Some(m) = &i.uid_map {
            let _ = writeln!(
                s,
                "  uid_map: {}",
                m.sorted().to_string().replace('\n', " | ")
            );
        }
        if let Some(m) = &i.gid_map {
            let _ = writeln!(
                s,
                "  gid_map: {}",
                m.sorted().to_string().replace('\n', " | ")
            );
        }
        if let Some(id) = &i.id {
            let _ = writeln!(s, "  id: {}", id.trim());
        }
        for (k, v) in &i.sysctls {
            let _ = writeln!(s, "  sysctl {k}: {v}");
        }
        for e in &i.exec {
            let _ = writeln!(
                s,
                "  exec `{}`: exit {}, stdout {:?}{}",
                e.command.join(" "),
                e.exit_code,
                e.stdout.trim(),
                if e.stderr.trim().is_empty() {
                    String::new()
                } else {
                    format!(", stderr {:?}", e.stderr.trim())
                }
            );
        }
        if let Some(h) = &p.host {
            let _ = writeln!(
                s,
                "  host view ({}): pid {}, uid {}, gid {}, uid_map {}, gid_map {}",
                h.source,
                h.pid.map(|x| x.to_string()).unwrap_or("?".into()),
                h.host_uid.map(|x| x.to_string()).unwrap_or("?".into()),
                h.host_gid.map(|x| x.to_string()).unwrap_or("?".into()),
                h.uid_map
                    .as_ref()
                    .map(|m| m.sorted().to_string().replace('\n', " | "))
                    .unwrap_or("?".into()),
                h.gid_map
                    .as_ref()
                    .map(|m| m.sorted().to_string().replace('\n', " | "))
                    .unwrap_or("?".into()),
            );
        }
        for e in &p.events {
            let _ = writeln!(s, "  event {} {}: {}", e.kind, e.reason, e.message);
        }
        if let Some(l) = &p.logs {
            let _ = writeln!(s, "  logs: {}", l.trim());
        }
    }
    for n in &o.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}
