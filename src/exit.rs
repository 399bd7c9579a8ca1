//! Exit codes: what `dockgrade` tells the shell, as named constants.
//!
//! They are documented in the README; scripts and CI depend on them, so a
//! value here never changes meaning.

/// Every check passed.
pub const SUCCESS: i32 = 0;
/// At least one check failed or could not run because of the submission.
pub const CHECK_FAILED: i32 = 1;
/// The command line or an exercise spec is wrong; the daemon was not used.
pub const USAGE_OR_SPEC: i32 = 2;
/// The Docker daemon or dockgrade itself failed; grades are not trustworthy.
pub const INFRASTRUCTURE: i32 = 3;
/// Interrupted by Ctrl-C (SIGINT): 128 + 2.
pub const INTERRUPTED: i32 = 130;
/// Terminated by SIGTERM: 128 + 15.
pub const TERMINATED: i32 = 143;
