//! Which value a variable name has at each point of a build, as moby
//! 20.10's `BuildArgs` and dispatchers decide it.
//!
//! - Before the first FROM, and in FROM itself, only the ARGs declared
//!   before the first FROM (the global scope) are visible.
//! - In a stage: the stage's environment first (ENV, what an earlier stage
//!   it is built FROM had, and the default PATH the daemon adds), then the
//!   ARGs declared in the stage; an ARG declared without a value takes the
//!   global one of the same name.
//! - A build argument given by the caller overrides an ARG's value, but
//!   only for an ARG declared in that scope; the proxy arguments
//!   (`HTTP_PROXY`, …) are visible without a declaration.
//!
//! A base image's own environment is not known here (no I/O): only the
//! default PATH is assumed. The course's base images define nothing else.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use super::lex::{Budget, Exhausted, Vars};

/// The PATH the daemon gives a stage whose base image sets none.
pub(super) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Build arguments Docker lets through without an ARG.
const BUILTIN_ARGS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
];

fn is_builtin(name: &str) -> bool {
    BUILTIN_ARGS.contains(&name)
}

/// ARGs declared before the first FROM, with the caller's build arguments.
#[derive(Debug)]
pub(super) struct GlobalArgs<'a> {
    build_args: &'a BTreeMap<String, String>,
    declared: HashMap<String, Option<String>>,
}

impl<'a> GlobalArgs<'a> {
    pub(super) fn new(build_args: &'a BTreeMap<String, String>) -> Self {
        GlobalArgs {
            build_args,
            declared: HashMap::new(),
        }
    }

    pub(super) fn declare(&mut self, name: String, value: Option<String>) {
        self.declared.insert(name, value);
    }

    fn default_of(&self, name: &str) -> Option<&str> {
        self.declared.get(name).and_then(|v| v.as_deref())
    }
}

impl Vars for GlobalArgs<'_> {
    fn var(&self, name: &str) -> Option<&str> {
        if !self.declared.contains_key(name) && !is_builtin(name) {
            return None;
        }
        self.build_args
            .get(name)
            .map(String::as_str)
            .or_else(|| self.default_of(name))
    }
}

/// A stage's environment, shared with the stages built FROM it until one
/// of them changes it.
pub(super) type Env = Rc<HashMap<String, String>>;

/// The environment of a stage on a base image: the default PATH.
pub(super) fn image_env() -> Env {
    Rc::new(HashMap::from([(
        "PATH".to_string(),
        DEFAULT_PATH.to_string(),
    )]))
}

/// The variables visible inside a stage.
#[derive(Debug)]
pub(super) struct StageScope<'g, 'a> {
    global: &'g GlobalArgs<'a>,
    declared: HashMap<String, Option<String>>,
    env: Env,
}

impl<'g, 'a> StageScope<'g, 'a> {
    pub(super) fn new(global: &'g GlobalArgs<'a>, env: Env) -> Self {
        StageScope {
            global,
            declared: HashMap::new(),
            env,
        }
    }

    pub(super) fn declare(&mut self, name: String, value: Option<String>) {
        self.declared.insert(name, value);
    }

    /// Sets an environment variable. A stage shares its parent's map until
    /// it first changes it: that copy is charged to the budget, so a chain
    /// of stages cannot make the work quadratic unnoticed.
    pub(super) fn set_env(
        &mut self,
        name: String,
        value: String,
        budget: &mut Budget,
    ) -> Result<(), Exhausted> {
        if Rc::strong_count(&self.env) > 1 {
            // Bytes copied, and the allocations of each entry.
            let size: usize = self.env.iter().map(|(k, v)| k.len() + v.len() + 64).sum();
            budget.spend(size)?;
        }
        budget.spend(name.len() + value.len())?;
        Rc::make_mut(&mut self.env).insert(name, value);
        Ok(())
    }

    /// The environment the stage ends with, for a stage built FROM it.
    pub(super) fn into_env(self) -> Env {
        self.env
    }
}

impl Vars for StageScope<'_, '_> {
    fn var(&self, name: &str) -> Option<&str> {
        if let Some(value) = self.env.get(name) {
            return Some(value);
        }
        if !self.declared.contains_key(name) && !is_builtin(name) {
            return None;
        }
        if let Some(value) = self.global.build_args.get(name) {
            return Some(value);
        }
        match self.declared.get(name) {
            Some(Some(value)) => Some(value),
            _ => self.global.default_of(name),
        }
    }
}
