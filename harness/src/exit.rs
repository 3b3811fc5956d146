//! Process exit codes, as documented in the README, decided here and only
//! here: commands return a [`Status`] or a [`CliError`], and [`code`] maps
//! either to the number the process ends with.

use crate::targets::TargetError;

/// All scenarios passed or were skipped.
pub const OK: i32 = 0;
/// At least one scenario failed or errored (`doctor`: the target is not ready).
pub const FAILED: i32 = 1;
/// Bad input (scenario files, arguments) or usage.
pub const BAD_INPUT: i32 = 2;
/// The target could not be used (unreachable, not root, runtime missing).
pub const TARGET_UNUSABLE: i32 = 3;
/// `run` selected no scenario (with `--no-tests=fail`, the default): a CI
/// job whose path or filter is mistyped must not pass. The same number as
/// cargo-nextest's "no tests run".
pub const NO_TESTS: i32 = 4;
/// Interrupted (SIGINT), after the reports were written.
pub const INTERRUPTED: i32 = 130;

/// How a command that ran to its end went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Everything passed (or was skipped, or there was nothing to judge).
    Ok,
    /// A scenario failed or errored, a comparison found a change, or
    /// `doctor` found the target not ready.
    Failed,
    /// Ctrl-C: what was running was stopped and removed, reports written.
    Interrupted,
}

/// Why a command could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Arguments that do not fit together, a missing one, or an input file
    /// that is not what it should be (the message names the file and place).
    #[error("{0}")]
    Usage(String),
    /// Bad input files: each error was already printed with its place;
    /// this is the closing summary line (`3 error(s)`).
    #[error("{0}")]
    Input(String),
    /// `run` selected no scenario; the message says why (the filter, a path
    /// that does not exist) and how to allow it.
    #[error("{0}")]
    NoTests(String),
    /// A file the command was asked to write or read.
    #[error("{context}")]
    File {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A report could not be rendered.
    #[error("rendering the {what} report")]
    Report {
        what: &'static str,
        #[source]
        source: crate::report::ReportError,
    },
    /// The target (or the async runtime that reaches it).
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A program or service the command needs (cluster tooling, a node).
    #[error("{context}")]
    Environment {
        context: String,
        #[source]
        source: Option<crate::targets::Cause>,
    },
}

impl CliError {
    pub fn file(context: impl Into<String>, source: std::io::Error) -> CliError {
        CliError::File {
            context: context.into(),
            source,
        }
    }

    pub fn environment(
        context: impl Into<String>,
        source: impl Into<crate::targets::Cause>,
    ) -> CliError {
        CliError::Environment {
            context: context.into(),
            source: Some(source.into()),
        }
    }
}

/// The exit code of a command's result.
pub fn code(result: &Result<Status, CliError>) -> i32 {
    match result {
        Ok(Status::Ok) => OK,
        Ok(Status::Failed) => FAILED,
        Ok(Status::Interrupted) => INTERRUPTED,
        Err(CliError::Usage(_) | CliError::Input(_) | CliError::File { .. }) => BAD_INPUT,
        Err(CliError::Report { .. }) => BAD_INPUT,
        Err(CliError::NoTests(_)) => NO_TESTS,
        Err(CliError::Target(TargetError::Cancelled)) => INTERRUPTED,
        Err(CliError::Target(_) | CliError::Environment { .. }) => TARGET_UNUSABLE,
    }
}

/// Prints a command's error with its causes and returns the exit code.
pub fn finish(result: Result<Status, CliError>) -> i32 {
    match &result {
        Err(CliError::Input(summary)) => eprintln!("{summary}"),
        Err(e) => eprintln!("error: {}", crate::targets::chain(e)),
        Ok(_) => {}
    }
    code(&result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_kind_has_its_documented_code() {
        let io = || std::io::Error::other("x");
        assert_eq!(code(&Ok(Status::Ok)), 0);
        assert_eq!(code(&Ok(Status::Failed)), 1);
        assert_eq!(code(&Ok(Status::Interrupted)), 130);
        assert_eq!(code(&Err(CliError::Usage("x".into()))), 2);
        assert_eq!(code(&Err(CliError::Input("1 error(s)".into()))), 2);
        assert_eq!(code(&Err(CliError::file("x", io()))), 2);
        assert_eq!(code(&Err(CliError::Target(TargetError::unusable("x")))), 3);
        assert_eq!(code(&Err(CliError::environment("docker", io()))), 3);
        assert_eq!(code(&Err(CliError::Target(TargetError::Cancelled))), 130);
        assert_eq!(code(&Err(CliError::NoTests("x".into()))), 4);
    }
}
