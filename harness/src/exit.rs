//! Process exit codes, as documented in the README.

/// All scenarios passed or were skipped.
pub const OK: i32 = 0;
/// At least one scenario failed or errored.
pub const FAILED: i32 = 1;
/// Bad input (scenario files, arguments) or usage.
pub const BAD_INPUT: i32 = 2;
/// The target could not be used (unreachable, not root, runtime missing).
pub const TARGET_UNUSABLE: i32 = 3;
