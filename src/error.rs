//! The one error type of the command line, and the exit code each maps to.

use std::path::PathBuf;

use crate::engine::EngineError;
use crate::exit;
use crate::spec::SpecError;
use crate::validate::ValidateError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("{0}")]
    Usage(String),
    /// Every problem found in the specs, each with file:line:column.
    #[error("{} error(s) in exercise specs", .0.len())]
    Spec(Vec<SpecError>),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// dockgrade itself could not work here (no async runtime, no signal
    /// handler): nothing was graded, and not because of the command line.
    #[error("{0}")]
    Infrastructure(String),
    #[error(transparent)]
    Validate(#[from] ValidateError),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Spec(_) | Error::Read { .. } | Error::Write { .. } => {
                exit::USAGE_OR_SPEC
            }
            Error::Validate(ValidateError::Course(_)) => exit::USAGE_OR_SPEC,
            Error::Engine(_)
            | Error::Infrastructure(_)
            | Error::Validate(
                ValidateError::Daemon(_)
                | ValidateError::Replay(_)
                | ValidateError::MissingDaemon(_),
            ) => exit::INFRASTRUCTURE,
        }
    }

    /// The full text for the terminal (spec errors with source lines).
    pub fn render(&self) -> String {
        match self {
            Error::Spec(errors) => {
                let mut out: String = errors
                    .iter()
                    .map(SpecError::render)
                    .collect::<Vec<_>>()
                    .join("\n");
                out.push_str(&format!("\n{self}\n"));
                out
            }
            Error::Engine(EngineError::Unreachable { .. })
            | Error::Validate(ValidateError::Daemon(EngineError::Unreachable { .. })) => format!(
                "error: {self}\n  Is the daemon running? Start it (e.g. `sudo systemctl start docker`), \
                 check DOCKER_HOST, and check that you may use its socket.\n"
            ),
            other => format!("error: {other}\n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_exits_with_its_documented_code() {
        let course = Error::Validate(ValidateError::Course("no solution".into()));
        assert_eq!(course.exit_code(), exit::USAGE_OR_SPEC);
        let daemon = Error::Validate(ValidateError::Daemon(EngineError::Daemon("gone".into())));
        assert_eq!(daemon.exit_code(), exit::INFRASTRUCTURE);
        let runtime = Error::Infrastructure("cannot start the async runtime".into());
        assert_eq!(runtime.exit_code(), exit::INFRASTRUCTURE);
        assert_eq!(Error::Usage("x".into()).exit_code(), exit::USAGE_OR_SPEC);
    }
}
