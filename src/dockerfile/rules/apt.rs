//! What an `apt-get`, `apt` or `aptitude` command does to the packages,
//! read from its words: options (and the values of those that take one)
//! skipped, the first other word the action, the words after it packages.
//!
//! A package word is reduced to its name: `git=1:2.39*` (a version),
//! `git/bookworm-backports` (a release) and `git:amd64` (an architecture)
//! all name `git`. A local `.deb` path names no package we can follow.

use super::shell::Command;

/// What one apt command does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Apt {
    /// `update`: downloads the package lists into /var/lib/apt/lists.
    Update,
    /// `install` with the packages named: none for `install -f`, nor for
    /// `install --download-only`, which only downloads them.
    Install(Vec<String>),
    /// `remove`, `purge`, `autoremove` or `autopurge`, with the packages
    /// named (none for a plain `autoremove`).
    Remove(Vec<String>),
}

const TOOLS: [&str; 3] = ["apt-get", "apt", "aptitude"];

/// Options whose value is the next word when not given with `=`.
const WITH_VALUE: [&str; 10] = [
    "-o",
    "-c",
    "-t",
    "-a",
    "--option",
    "--config-file",
    "--target-release",
    "--default-release",
    "--host-architecture",
    "--display-format",
];

/// What `command` does to the packages, if it is an apt command that
/// updates, installs or removes.
pub(super) fn apt(command: &Command) -> Option<Apt> {
    if !TOOLS.contains(&command.program()) {
        return None;
    }
    let args = command.args();
    let mut operands = operands(args);
    let action = operands.next()?;
    let packages = || operands.filter_map(package_name).collect();
    match action {
        "update" => Some(Apt::Update),
        "install" if args.iter().any(|a| a == "-d" || a == "--download-only") => {
            Some(Apt::Install(Vec::new()))
        }
        "install" => Some(Apt::Install(packages())),
        "remove" | "purge" | "autoremove" | "autopurge" => Some(Apt::Remove(packages())),
        _ => None,
    }
}

/// The words that are not options nor option values.
fn operands(args: &[String]) -> impl Iterator<Item = &str> {
    let mut skip_value = false;
    args.iter().filter_map(move |arg| {
        if std::mem::take(&mut skip_value) {
            return None;
        }
        if arg.starts_with('-') {
            skip_value = WITH_VALUE.contains(&arg.as_str());
            return None;
        }
        Some(arg.as_str())
    })
}

/// The package a word names; `None` for a local `.deb` file.
fn package_name(word: &str) -> Option<String> {
    if word.starts_with(['.', '/', '~']) || word.ends_with(".deb") {
        return None;
    }
    let name = word.split(['=', '/', ':']).next().unwrap_or(word);
    (!name.is_empty()).then(|| name.to_string())
}
