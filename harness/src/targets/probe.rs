//! What every target reads inside a settled container: the id maps, `id`,
//! the planned sysctls and commands — one sequence, whatever runs the exec.

use std::future::Future;

use crate::observation::{ExecResult, Probe};
use crate::parse::idmap;
use crate::plan::ProbePlan;

/// Runs the probe through `exec` (a command line → its result).
pub async fn read<F, Fut, E>(container: &str, plan: &ProbePlan, mut exec: F) -> Result<Probe, E>
where
    F: FnMut(Vec<String>) -> Fut,
    Fut: Future<Output = Result<ExecResult, E>>,
{
    let cat = |p: &str| vec!["cat".to_string(), p.to_string()];
    let mut probe = Probe {
        container: Some(container.to_string()),
        ..Probe::default()
    };
    probe.uid_map = idmap::parse(&exec(cat("/proc/self/uid_map")).await?.stdout).ok();
    probe.gid_map = idmap::parse(&exec(cat("/proc/self/gid_map")).await?.stdout).ok();
    let id = exec(vec!["id".into()]).await?;
    probe.id = (id.exit_code == 0).then(|| id.stdout.trim().to_string());
    for s in &plan.sysctls {
        let r = exec(cat(&format!("/proc/sys/{}", s.replace('.', "/")))).await?;
        let value = if r.exit_code == 0 {
            crate::observation::normalize_text(&r.stdout)
        } else {
            format!("(unreadable: {})", r.stderr.trim())
        };
        probe.sysctls.insert(s.clone(), value);
    }
    for cmd in &plan.commands {
        probe.exec.push(exec(cmd.clone()).await?);
    }
    Ok(probe)
}
