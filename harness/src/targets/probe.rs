//! What every target reads inside a settled container: the id maps, `id`,
//! the planned sysctls and commands — one sequence, whatever runs the exec.
//!
//! Each exec is a round trip through the runtime (and, on a cluster, the API
//! server), so when the image has a shell the fixed reads go in one `sh -c`
//! whose output is cut into sections; without a shell, one exec each. The
//! scenario's own commands always run on their own, so their exit code and
//! output are exactly theirs.

use std::collections::BTreeMap;
use std::future::Future;

use crate::observation::{normalize_text, ExecResult, Probe};
use crate::parse::idmap;
use crate::plan::ProbePlan;

/// Starts each section of the batched read; never in what is read.
const MARK: &str = "--userns-e2e-probe--";

/// What one read gave: its output and whether it worked.
#[derive(Debug, Clone, PartialEq)]
struct Read {
    ok: bool,
    out: String,
}

/// The files and commands every probe reads, by section name.
fn reads(plan: &ProbePlan) -> Vec<(String, Vec<String>)> {
    let cat = |p: &str| vec!["cat".to_string(), p.to_string()];
    let mut out = vec![
        ("uid_map".to_string(), cat("/proc/self/uid_map")),
        ("gid_map".to_string(), cat("/proc/self/gid_map")),
        ("id".to_string(), vec!["id".to_string()]),
    ];
    for s in &plan.sysctls {
        out.push((
            format!("sysctl {s}"),
            cat(&format!("/proc/sys/{}", s.replace('.', "/"))),
        ));
    }
    out
}

/// One shell script for all reads: each section is the marker line with its
/// name, the output (stderr too, for the "unreadable" reason), then a marker
/// line with the exit code.
fn script(reads: &[(String, Vec<String>)]) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut s = String::new();
    for (name, cmd) in reads {
        let cmd: Vec<String> = cmd.iter().map(|c| quote(c)).collect();
        s.push_str(&format!(
            "echo {MARK}{}; {} 2>&1; rc=$?; echo; echo {MARK}rc=$rc; ",
            quote(name),
            cmd.join(" ")
        ));
    }
    s
}

/// Cuts the batched output into sections; `None` when it is not ours (no
/// shell, or something else answered).
fn sections(stdout: &str) -> Option<BTreeMap<String, Read>> {
    let mut out = BTreeMap::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix(MARK) {
            if let Some(code) = rest.strip_prefix("rc=") {
                let (name, lines) = current.take()?;
                // `echo` after the command makes the last line end; drop it.
                let text = lines.join("\n");
                out.insert(
                    name,
                    Read {
                        ok: code.trim() == "0",
                        out: text.trim_end_matches('\n').to_string(),
                    },
                );
            } else {
                current = Some((rest.to_string(), Vec::new()));
            }
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(line);
        }
    }
    (current.is_none() && !out.is_empty()).then_some(out)
}

/// Runs the probe through `exec` (a command line → its result).
pub async fn read<F, Fut, E>(container: &str, plan: &ProbePlan, mut exec: F) -> Result<Probe, E>
where
    F: FnMut(Vec<String>) -> Fut,
    Fut: Future<Output = Result<ExecResult, E>>,
{
    let reads = reads(plan);
    // A failed batch (no shell, exec refused) only means: one read at a time;
    // a target that is really gone fails again there and says so.
    let batched = match exec(vec!["sh".into(), "-c".into(), script(&reads)]).await {
        Ok(b) if b.exit_code == 0 => sections(&b.stdout),
        _ => None,
    };
    let mut got: BTreeMap<String, Read> = BTreeMap::new();
    for (name, cmd) in &reads {
        let read = match batched.as_ref().and_then(|b| b.get(name)) {
            Some(r) => r.clone(),
            None => {
                let r = exec(cmd.clone()).await?;
                let ok = r.exit_code == 0;
                Read {
                    ok,
                    out: if ok { r.stdout } else { r.stderr },
                }
            }
        };
        got.insert(name.clone(), read);
    }
    let ok_text = |name: &str| got.get(name).filter(|r| r.ok).map(|r| r.out.clone());
    let mut probe = Probe {
        container: Some(container.to_string()),
        uid_map: ok_text("uid_map").and_then(|t| idmap::parse(&t).ok()),
        gid_map: ok_text("gid_map").and_then(|t| idmap::parse(&t).ok()),
        id: ok_text("id").map(|t| t.trim().to_string()),
        ..Probe::default()
    };
    for s in &plan.sysctls {
        let value = match got.get(&format!("sysctl {s}")) {
            Some(r) if r.ok => normalize_text(&r.out),
            Some(r) => format!("(unreadable: {})", r.out.trim()),
            None => "(unreadable)".to_string(),
        };
        probe.sysctls.insert(s.clone(), value);
    }
    for cmd in &plan.commands {
        probe.exec.push(exec(cmd.clone()).await?);
    }
    Ok(probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_of_a_batched_read() {
        let plan = ProbePlan {
            sysctls: vec!["net.ipv4.ping_group_range".into(), "kernel.x".into()],
            ..ProbePlan::default()
        };
        let s = script(&reads(&plan));
        assert!(s.contains("'cat' '/proc/sys/net/ipv4/ping_group_range' 2>&1"));
        let out = format!(
            "{MARK}uid_map\n         0     131072      65536\n\n{MARK}rc=0\n{MARK}gid_map\n0 131072 65536\n\n{MARK}rc=0\n{MARK}id\nuid=0(root) gid=0(root)\n\n{MARK}rc=0\n{MARK}sysctl net.ipv4.ping_group_range\n0\t65535\n\n{MARK}rc=0\n{MARK}sysctl kernel.x\ncat: can't open '/proc/sys/kernel/x': No such file\n\n{MARK}rc=1\n"
        );
        let got = sections(&out).unwrap();
        assert_eq!(got["uid_map"].out, "         0     131072      65536");
        assert_eq!(
            got["sysctl net.ipv4.ping_group_range"],
            Read {
                ok: true,
                out: "0\t65535".into()
            }
        );
        assert!(!got["sysctl kernel.x"].ok);
        // A shell-less image answers with something else: not ours.
        assert!(sections("exec: \"sh\": executable file not found").is_none());
        // Cut short: not ours either.
        assert!(sections(&format!("{MARK}uid_map\n0 0 4294967295\n")).is_none());
    }

    #[tokio::test]
    async fn falls_back_to_one_exec_each_without_a_shell() {
        let plan = ProbePlan::default();
        let mut seen = Vec::new();
        let p = read("c", &plan, |cmd: Vec<String>| {
            seen.push(cmd.join(" "));
            let (code, out) = match cmd[0].as_str() {
                "sh" => (127, String::new()),
                "id" => (0, "uid=0(root)".to_string()),
                _ => (0, "0 65536 65536".to_string()),
            };
            async move {
                Ok::<_, ()>(ExecResult {
                    command: cmd,
                    exit_code: code,
                    stdout: out,
                    stderr: String::new(),
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(p.uid_map.unwrap().to_string(), "0 65536 65536");
        assert_eq!(p.id.as_deref(), Some("uid=0(root)"));
        assert_eq!(seen.len(), 4, "{seen:?}");
    }
}
