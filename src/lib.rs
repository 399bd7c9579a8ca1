//! dockgrade grades Docker exercises against a real Docker daemon.
//!
//! Data flows one way, and each step has its room:
//!
//! - [`spec`]: TOML → [`spec::Exercise`], no I/O; `spec/parse/` holds the
//!   error-collecting reader, the exercise and step grammar, and the checks.
//!   [`catalog`] finds the course (a flag, `DOCKGRADE_EXERCISES`, a folder
//!   nearby, or the course `installed` with the binary), loads its specs
//!   and selects among them.
//! - `plan`: what to build, run and probe, decided up front, no I/O.
//! - `stage` and [`build_context`]: the submission as grading reads it (the
//!   exercise's files layered over it, `.dockerignore` applied by
//!   `dockerignore`), never written to.
//! - `engine`: the only code that talks to the daemon, one room per job
//!   (images, builds, the archive API, runs and their `sandbox`, live
//!   containers, cleanup); it takes its own request types.
//! - `observation`: what the engine saw, as plain data; `layer_scan` reads
//!   an image's export (both layouts) into what each layer holds, with the
//!   files that look like credentials (`secrets`).
//! - `check`: pure functions from observations to outcomes.
//! - `runner`: drives the flow for each exercise and sends `event`s, the
//!   one channel to `report` (terminal, JSON, JUnit, one file per format).
//! - `validate` and `doctor`: the course's own CI, and the student's
//!   machine check; `prepare`, which images the course needs (`dockgrade
//!   prepare` puts them on the daemon). `cli` is the command line around
//!   it all, `signal` the handling of Ctrl-C and SIGTERM, `names` what we
//!   call what we create, `owner` which process created it.
//!
//! Only what the integration tests need is public: the spec model and
//! parser, the build-context walk (compared with `docker build`), and the
//! Dockerfile rules (compared with hadolint).

pub mod build_context;
pub mod catalog;
pub mod cli;
pub mod spec;

mod batch;
mod build_output;
mod check;
mod dockerfile;
mod dockerignore;
mod doctor;
mod engine;
mod error;
mod event;
mod exit;
mod installed;
mod last_results;
mod layer_scan;
mod names;
mod observation;
mod owner;
mod plan;
mod prepare;
mod replay;
mod report;
mod runner;
mod sandbox;
mod secrets;
mod signal;
mod stage;
mod units;
mod validate;

pub use dockerfile::rules as dockerfile_rules;
