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

/// The exit codes as `--help` lists them, per kind of command. Tested
/// against the constants above, so help and code cannot drift apart.
pub mod help {
    /// `check`.
    pub const CHECK: &str = "Exit codes:\n  \
        0    every check passed\n  \
        1    a check failed, or could not run because of the submission\n  \
        2    bad command line or exercise spec (nothing graded)\n  \
        3    the Docker daemon or dockgrade failed: the grade cannot be trusted\n  \
        130  Ctrl-C (SIGINT): what was created is removed\n  \
        143  SIGTERM: likewise";
    /// `validate`.
    pub const VALIDATE: &str = "Exit codes:\n  \
        0    the course is sound\n  \
        1    a case or a check is not as expected\n  \
        2    bad command line, or the course's own files are wrong\n  \
        3    the Docker daemon failed\n  \
        130  Ctrl-C (SIGINT), with the cases graded so far reported\n  \
        143  SIGTERM: likewise";
    /// `batch`.
    pub const BATCH: &str = "Exit codes:\n  \
        0    every submission got its row, whatever the scores\n  \
        2    bad command line, exercise spec or roster (nothing graded)\n  \
        3    no daemon is left: what was graded is written; run again to finish\n  \
        130  Ctrl-C (SIGINT): finished students kept; run again to resume\n  \
        143  SIGTERM: likewise";
    /// `doctor`.
    pub const DOCTOR: &str = "Exit codes:\n  \
        0    this machine can take the course\n  \
        1    something needs fixing (each item says what to do)\n  \
        2    bad command line";
    /// `prepare`.
    pub const PREPARE: &str = "Exit codes:\n  \
        0    every image the exercises need is on the daemon (and saved, with --save)\n  \
        1    an image is still missing (the output says how to get it)\n  \
        2    bad command line, exercise spec, or --from/--save file\n  \
        3    the Docker daemon failed\n  \
        130  Ctrl-C (SIGINT): no half-written archive is left\n  \
        143  SIGTERM: likewise";
    /// Commands that do not grade (`list`, `lint`, `show`, `init`, `merge`,
    /// `clean`, `completions`, `man`).
    pub const PLAIN: &str = "Exit codes:\n  \
        0    done\n  \
        2    bad command line, exercise spec or input files\n  \
        3    the Docker daemon failed (commands that use it)";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_the_codes_the_constants_hold() {
        for (text, codes) in [
            (
                help::CHECK,
                &[
                    SUCCESS,
                    CHECK_FAILED,
                    USAGE_OR_SPEC,
                    INFRASTRUCTURE,
                    INTERRUPTED,
                    TERMINATED,
                ][..],
            ),
            (
                help::VALIDATE,
                &[
                    SUCCESS,
                    CHECK_FAILED,
                    USAGE_OR_SPEC,
                    INFRASTRUCTURE,
                    INTERRUPTED,
                    TERMINATED,
                ],
            ),
            (
                help::BATCH,
                &[
                    SUCCESS,
                    USAGE_OR_SPEC,
                    INFRASTRUCTURE,
                    INTERRUPTED,
                    TERMINATED,
                ],
            ),
            (help::DOCTOR, &[SUCCESS, CHECK_FAILED, USAGE_OR_SPEC]),
            (
                help::PREPARE,
                &[
                    SUCCESS,
                    CHECK_FAILED,
                    USAGE_OR_SPEC,
                    INFRASTRUCTURE,
                    INTERRUPTED,
                    TERMINATED,
                ],
            ),
            (help::PLAIN, &[SUCCESS, USAGE_OR_SPEC, INFRASTRUCTURE]),
        ] {
            for code in codes {
                assert!(
                    text.contains(&format!("\n  {code:<4} ")),
                    "{code} in {text}"
                );
            }
        }
    }
}
