//! dockgrade grades Docker exercises against a real Docker daemon.
//!
//! Data flows one way: [`spec`] (TOML → `Exercise`, no I/O) → [`plan`]
//! (what to build, run and observe, no I/O) → [`engine`] (the only module
//! that talks to the daemon) → [`observation`] → [`check`] (pure functions)
//! → [`event`] → [`report`]. [`runner`] drives that flow, [`context`] reads
//! the submission's files, and [`cli`] is the command line around it all.

pub mod check;
pub mod cli;
pub mod context;
pub mod dockerignore;
pub mod doctor;
pub mod engine;
pub mod error;
pub mod event;
pub mod exit;
pub mod observation;
pub mod plan;
pub mod report;
pub mod runner;
pub mod spec;
pub mod stage;
pub mod validate;
