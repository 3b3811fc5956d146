//! A test tier whose prerequisite is missing (no CRI-O builds, no MicroShift,
//! no Chromium): skipped, saying what is missing, except with `CI=true`,
//! where a tier that cannot run is a failure.

/// Prints why `tier` cannot run and returns whether that is a failure
/// (`CI=true`). The line reads as a skip with its reason first, so nobody
/// takes CI for the cause: `real_crio: skipped: no CRI-O builds found under
/// …; with CI=true this is a failure`.
pub fn skipped_or_fails(tier: &str, why: &str) -> bool {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    if ci {
        eprintln!("{tier}: {why}; CI=true, so this is a failure");
    } else {
        eprintln!("{tier}: skipped: {why}; with CI=true this is a failure");
    }
    ci
}
