//! Tests against the real local node (containerd + runc started by this test
//! binary and stopped at its end). Absence of the runtime is a failure, never a skip.

mod cri_cases;

fn main() {}
