//! Running external tools (docker, kind, oc) through duct, or printing them.

use std::path::Path;

/// One command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub program: String,
    pub args: Vec<String>,
    /// Text fed to stdin (e.g. manifests for `oc apply -f -`).
    pub stdin: Option<String>,
    /// Skip this step when this probe succeeds (e.g. the image is already there).
    pub unless: Option<Box<Step>>,
    /// A question rather than an action: its failure is an answer, printed as
    /// `<report>: …`, never an error.
    pub report: Option<String>,
}

impl Step {
    pub fn new(program: &str, args: &[&str]) -> Step {
        Step {
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            stdin: None,
            unless: None,
            report: None,
        }
    }

    /// Shell-quoted, for --dry-run and error messages.
    pub fn display(&self) -> String {
        let quote = |s: &str| {
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c))
            {
                s.to_string()
            } else {
                format!("'{}'", s.replace('\'', "'\\''"))
            }
        };
        let mut line = std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .map(quote)
            .collect::<Vec<_>>()
            .join(" ");
        if self.stdin.is_some() {
            line.push_str(" <<'EOF' (stdin below)");
        }
        if let Some(probe) = &self.unless {
            line = format!("{} >/dev/null 2>&1 || {line}", probe.display());
        }
        if let Some(label) = &self.report {
            line = format!("{line}  # reports {label}; its failure is not an error");
        }
        line
    }
}

/// A step that failed: it could not start, or the tool said no.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("cannot run `{line}` (is {program} installed and on PATH?)")]
    Spawn {
        line: String,
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{line}` failed with exit code {code}:\n{stderr}")]
    Failed {
        line: String,
        code: String,
        stderr: String,
    },
}

/// Runs steps in order; the first failure is reported with the tool's stderr.
pub fn run(steps: &[Step], dir: Option<&Path>) -> Result<(), ToolError> {
    for s in steps {
        if let Some(probe) = &s.unless {
            if succeeds(probe, dir) {
                eprintln!("+ {} (skipped: `{}` succeeded)", s.program, probe.display());
                continue;
            }
        }
        eprintln!("+ {}", s.display());
        if let Some(label) = &s.report {
            report(s, label, dir);
            continue;
        }
        let mut cmd = expression(s, dir).stderr_capture();
        if let Some(input) = &s.stdin {
            cmd = cmd.stdin_bytes(input.as_bytes());
        }
        let out = cmd.run().map_err(|source| ToolError::Spawn {
            line: s.display(),
            program: s.program.clone(),
            source,
        })?;
        if !out.status.success() {
            return Err(ToolError::Failed {
                line: s.display(),
                code: out
                    .status
                    .code()
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "signal".into()),
                stderr: String::from_utf8_lossy(&out.stderr).trim_end().to_string(),
            });
        }
    }
    Ok(())
}

/// A step as a duct expression whose exit status is the caller's to judge.
fn expression(s: &Step, dir: Option<&Path>) -> duct::Expression {
    let cmd = duct::cmd(&s.program, &s.args).unchecked();
    match dir {
        Some(d) => cmd.dir(d),
        None => cmd,
    }
}

fn succeeds(probe: &Step, dir: Option<&Path>) -> bool {
    expression(probe, dir)
        .stdout_null()
        .stderr_null()
        .run()
        .is_ok_and(|o| o.status.success())
}

/// Runs a question step and prints its answer on stderr.
fn report(s: &Step, label: &str, dir: Option<&Path>) {
    match expression(s, dir).stdout_capture().stderr_capture().run() {
        Ok(out) if out.status.success() => eprintln!("{label}: yes"),
        Ok(out) => eprintln!(
            "{label}: NO ({})",
            String::from_utf8_lossy(if out.stderr.is_empty() {
                &out.stdout
            } else {
                &out.stderr
            })
            .trim()
        ),
        Err(e) => eprintln!("{label}: unknown (cannot run {}: {e})", s.program),
    }
}

/// Prints steps for --dry-run.
pub fn print(steps: &[Step]) -> String {
    let mut out = String::new();
    for s in steps {
        out.push_str(&s.display());
        out.push('\n');
        if let Some(input) = &s.stdin {
            out.push_str(input);
            if !input.ends_with('\n') {
                out.push('\n');
            }
            out.push_str("EOF\n");
        }
    }
    out
}
