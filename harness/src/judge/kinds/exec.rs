//! `exec`: commands run in the container, their exit code and output.

use super::{check as make, not_observed, text_check};
use crate::observation::PodObservation;
use crate::scenario::ExecExpect;
use crate::templates::Templates;
use crate::verdict::Check;

pub fn checks(
    subject: &dyn Fn(&str) -> String,
    want: &[ExecExpect],
    pod: &PodObservation,
    t: &Templates,
) -> Vec<Check> {
    let mut out = Vec::new();
    for e in want {
        let what = format!("exec `{}`", e.command.join(" "));
        let Some(r) = pod.inside.exec.iter().find(|r| r.command == e.command) else {
            out.push(make(
                subject(&what),
                "the command to run",
                not_observed(pod),
                false,
            ));
            continue;
        };
        if let Some(code) = e.exit_code {
            out.push(make(
                subject(&format!("{what} exit code")),
                code.to_string(),
                r.exit_code.to_string(),
                r.exit_code == code,
            ));
        }
        if let Some(m) = &e.stdout {
            out.push(text_check(
                subject(&format!("{what} stdout")),
                m,
                Some(&r.stdout),
                pod,
                t,
            ));
        }
    }
    out
}

/// The commands to run.
pub fn needs(want: &[ExecExpect]) -> Vec<Vec<String>> {
    want.iter().map(|e| e.command.clone()).collect()
}
