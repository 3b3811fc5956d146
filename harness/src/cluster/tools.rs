//! Running external tools (docker, kind, oc) through duct, or printing them.

use std::path::Path;

/// One command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub program: String,
    pub args: Vec<String>,
    /// Text fed to stdin (e.g. manifests for `oc apply -f -`).
    pub stdin: Option<String>,
}

impl Step {
    pub fn new(program: &str, args: &[&str]) -> Step {
        Step {
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            stdin: None,
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
        line
    }
}

/// Runs steps in order; the first failure is reported with the tool's stderr.
pub fn run(steps: &[Step], dir: Option<&Path>) -> Result<(), String> {
    for s in steps {
        eprintln!("+ {}", s.display());
        let mut cmd = duct::cmd(&s.program, &s.args).stderr_capture().unchecked();
        if let Some(d) = dir {
            cmd = cmd.dir(d);
        }
        if let Some(input) = &s.stdin {
            cmd = cmd.stdin_bytes(input.as_bytes());
        }
        let out = cmd.run().map_err(|e| {
            format!(
                "cannot run `{}`: {e} (is {} installed and on PATH?)",
                s.display(),
                s.program
            )
        })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(format!(
                "`{}` failed with exit code {}:\n{}",
                s.display(),
                out.status
                    .code()
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "signal".into()),
                stderr.trim_end()
            ));
        }
    }
    Ok(())
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
