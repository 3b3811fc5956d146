//! Running the built `userns-e2e` in CLI tests.

use std::ffi::OsStr;
use std::process::Command;

/// `userns-e2e ARGS…`: exit code (-1 when killed), stdout, stderr.
pub fn run<I, S>(args: I) -> (i32, String, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let o = Command::new(env!("CARGO_BIN_EXE_userns-e2e"))
        .args(args)
        .output()
        .expect("the userns-e2e binary runs");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}
