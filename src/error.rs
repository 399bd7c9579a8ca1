//! The one error type of the command line, and the exit code each maps to.

use std::path::PathBuf;

use crate::engine::EngineError;
use crate::exit;
use crate::spec::SpecError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
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
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Spec(_) | Error::Read { .. } | Error::Write { .. } => {
                exit::USAGE_OR_SPEC
            }
            Error::Engine(_) => exit::INFRASTRUCTURE,
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
            Error::Engine(EngineError::Unreachable { .. }) => format!(
                "error: {self}\n  Is the daemon running? Start it (e.g. `sudo systemctl start docker`), \
                 check DOCKER_HOST, and check that you may use its socket.\n"
            ),
            other => format!("error: {other}\n"),
        }
    }
}
