//! dockgrade grades Docker exercises against a real Docker daemon.
//!
//! Data flows one way: [`spec`] (TOML → `Exercise`, no I/O) → [`plan`]
//! (what to build, run and observe) → [`engine`] (the only module that talks
//! to the daemon) → [`observation`] → [`check`] (pure functions) →
//! [`event`] → [`report`]. [`runner`] drives that flow; [`cli`] is the
//! command line around it.

pub mod context;
pub mod dockerignore;
pub mod spec;
