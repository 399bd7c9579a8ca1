//! The kinds of assertion a check can make: the one list of their spec keys.

/// The kinds of assertion, each under its own key in a `[[checks]]` table.
///
/// This is the one list of assertion keys: the parser reads them in this
/// order, [`Assertion::kind`] names them, and the fuzz test draws from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionKind {
    Container,
    Build,
    Size,
    Layers,
    Files,
    File,
    Config,
    User,
    Context,
    Wasted,
    Efficiency,
    Secrets,
    Dockerfile,
    ExitCode,
    Stdout,
    Stderr,
    Http,
    Disk,
    Daemon,
}

impl AssertionKind {
    pub const ALL: [AssertionKind; 19] = [
        AssertionKind::Container,
        AssertionKind::Build,
        AssertionKind::Size,
        AssertionKind::Layers,
        AssertionKind::Files,
        AssertionKind::File,
        AssertionKind::Config,
        AssertionKind::User,
        AssertionKind::Context,
        AssertionKind::Wasted,
        AssertionKind::Efficiency,
        AssertionKind::Secrets,
        AssertionKind::Dockerfile,
        AssertionKind::ExitCode,
        AssertionKind::Stdout,
        AssertionKind::Stderr,
        AssertionKind::Http,
        AssertionKind::Disk,
        AssertionKind::Daemon,
    ];

    /// The spec key this assertion is written under.
    pub fn key(self) -> &'static str {
        match self {
            AssertionKind::Container => "container",
            AssertionKind::Build => "build",
            AssertionKind::Size => "size",
            AssertionKind::Layers => "layers",
            AssertionKind::Files => "files",
            AssertionKind::File => "file",
            AssertionKind::Config => "config",
            AssertionKind::User => "user",
            AssertionKind::Context => "context",
            AssertionKind::Wasted => "wasted",
            AssertionKind::Efficiency => "efficiency",
            AssertionKind::Secrets => "secrets",
            AssertionKind::Dockerfile => "dockerfile",
            AssertionKind::ExitCode => "exit_code",
            AssertionKind::Stdout => "stdout",
            AssertionKind::Stderr => "stderr",
            AssertionKind::Http => "http",
            AssertionKind::Disk => "disk",
            AssertionKind::Daemon => "daemon",
        }
    }
}
