//! One function per rule: what makes it fire, and its message in the
//! course's words (`docs/dockerfile-rules.md` says why each is so, and where
//! hadolint decides otherwise).

use std::collections::{HashMap, HashSet};

use super::apt::{Apt, apt};
use super::shell::Command;
use super::{Model, Rule, RuleContext, RuleFinding, Stage};
use crate::dockerfile::eval::{Base, TooMuchWork};
use crate::dockerfile::lex::Budget;
use crate::dockerfile::{Instruction, Keyword};

/// The example the messages give of a version to name.
const TAGGED_EXAMPLE: &str = "FROM debian:bookworm-slim";

/// Adds the findings of `rule` to `out`.
pub(super) fn check(
    rule: Rule,
    model: &Model<'_>,
    cx: &RuleContext,
    budget: &mut Budget,
    out: &mut Vec<RuleFinding>,
) -> Result<(), TooMuchWork> {
    match rule {
        Rule::UntaggedFrom | Rule::LatestFrom => base_tags(rule, model, out),
        Rule::InstallWithoutUpdate => install_without_update(model, out),
        Rule::AptListsKept => apt_lists_kept(model, out),
        Rule::RemoveInLaterRun => remove_in_later_run(model, budget, out)?,
        Rule::AddInsteadOfCopy => add_instead_of_copy(model, out),
        Rule::CdInsteadOfWorkdir => cd_instead_of_workdir(model, out),
        Rule::RootUser if cx.wants_non_root => root_user(model, out),
        Rule::CopyAllWithoutDockerignore if !cx.has_dockerignore => copy_all(model, out),
        Rule::RootUser | Rule::CopyAllWithoutDockerignore => {}
    }
    Ok(())
}

fn finding(rule: Rule, instruction: &Instruction, message: String) -> RuleFinding {
    RuleFinding {
        rule,
        line: instruction.line,
        message,
    }
}

/// The tag of an image reference: `None` when it is pinned by a digest,
/// `Some(None)` when it has no tag. A `:` before the last `/` is a
/// registry's port, not a tag.
fn tag_of(reference: &str) -> Option<Option<&str>> {
    if reference.contains('@') {
        return None;
    }
    let last = reference.rsplit('/').next().unwrap_or(reference);
    Some(last.split_once(':').map(|(_, tag)| tag))
}

/// `untagged-from` and `latest-from`: an image named after substitution
/// with the global ARGs; `scratch`, earlier stages, digests and names that
/// do not resolve are left alone.
fn base_tags(rule: Rule, model: &Model<'_>, out: &mut Vec<RuleFinding>) {
    for stage in &model.stages {
        let Base::Image(reference) = stage.base else {
            continue;
        };
        let excerpt = stage.from.excerpt();
        let message = match (rule, tag_of(reference)) {
            (Rule::UntaggedFrom, Some(None)) => format!(
                "`{excerpt}`: the image has no tag, so Docker takes `{reference}:latest`, \
                 whatever that is on the day of the build. That is bad practice from the \
                 reproducibility point of view: name the version, as in `{TAGGED_EXAMPLE}`."
            ),
            (Rule::LatestFrom, Some(Some("latest"))) => format!(
                "`{excerpt}`: `latest` is whatever version was pushed last, so the same \
                 Dockerfile builds another image from one day to the next. That is bad \
                 practice from the reproducibility point of view: name the version, as in \
                 `{TAGGED_EXAMPLE}`."
            ),
            _ => continue,
        };
        out.push(finding(rule, stage.from, message));
    }
}

/// Where the package lists an install would use come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lists {
    /// None downloaded, or removed since.
    Absent,
    /// Downloaded by an earlier RUN, on this line, and still there.
    Earlier(usize),
    /// Downloaded by this RUN.
    Here,
}

/// `install-without-update`: an `apt-get install` of packages with no
/// `apt-get update` before it in the same RUN.
fn install_without_update(model: &Model<'_>, out: &mut Vec<RuleFinding>) {
    // Per stage: the package lists it ends with.
    let mut ends_with: Vec<Lists> = Vec::with_capacity(model.stages.len());
    for stage in &model.stages {
        let parent = stage.parent().and_then(|p| ends_with.get(p).copied());
        let mut lists = parent.unwrap_or(Lists::Absent);
        for (run, commands) in model.runs(stage) {
            let mut reported = false;
            for command in commands {
                match apt(command) {
                    Some(Apt::Update) => lists = Lists::Here,
                    Some(Apt::Install(packages))
                        if !packages.is_empty() && lists != Lists::Here && !reported =>
                    {
                        reported = true;
                        out.push(install_finding(run, command.program(), lists));
                    }
                    _ if removes_apt_lists(command) => lists = Lists::Absent,
                    _ => {}
                }
            }
            if lists == Lists::Here {
                lists = Lists::Earlier(run.line);
            }
        }
        ends_with.push(lists);
    }
}

fn install_finding(run: &Instruction, program: &str, lists: Lists) -> RuleFinding {
    let excerpt = run.excerpt();
    let why = match lists {
        Lists::Earlier(line) => format!(
            "The package lists come from the RUN on line {line}, a layer Docker reuses \
             from its cache: they go stale, and the install fails once they name versions \
             the mirror no longer has."
        ),
        Lists::Absent | Lists::Here => "There are no package lists at that point (the base \
                                        image comes without them), so apt cannot find the \
                                        package."
            .to_string(),
    };
    let message = format!(
        "`{excerpt}`: `{program} install` without `{program} update` before it in the same \
         RUN. {why} Update and install in one RUN: `apt-get update && apt-get install -y …`."
    );
    finding(Rule::InstallWithoutUpdate, run, message)
}

/// `apt-lists-kept`: a RUN of a stage in the final image that runs
/// `apt-get update` and does not remove /var/lib/apt/lists.
fn apt_lists_kept(model: &Model<'_>, out: &mut Vec<RuleFinding>) {
    let mut stages = model.final_lineage();
    stages.sort_unstable();
    for index in stages {
        for (run, commands) in model.runs(&model.stages[index]) {
            let update = commands.iter().find(|c| apt(c) == Some(Apt::Update));
            if let Some(update) = update
                && !commands.iter().any(removes_apt_lists)
            {
                let message = format!(
                    "`{}`: `{} update` downloads the package lists into \
                     /var/lib/apt/lists, and this RUN leaves them in its layer, where they \
                     only make the image bigger. End the same RUN with \
                     `&& rm -rf /var/lib/apt/lists/*`.",
                    run.excerpt(),
                    update.program()
                );
                out.push(finding(Rule::AptListsKept, run, message));
            }
        }
    }
}

/// `rm -r` (any spelling of the flag) of /var/lib/apt/lists or its files.
fn removes_apt_lists(command: &Command) -> bool {
    let args = command.args();
    let recursive = args.iter().any(|a| {
        a == "--recursive" || (a.starts_with('-') && !a.starts_with("--") && a.contains(['r', 'R']))
    });
    command.program() == "rm"
        && recursive
        && args
            .iter()
            .any(|a| a.trim_end_matches(['/', '*']) == "/var/lib/apt/lists")
}

/// `remove-in-later-run`: a package removed by a RUN, installed by an
/// earlier RUN of the same stage or of a stage it is built on.
fn remove_in_later_run(
    model: &Model<'_>,
    budget: &mut Budget,
    out: &mut Vec<RuleFinding>,
) -> Result<(), TooMuchWork> {
    // Per stage: each package installed and not removed, with the line of
    // the RUN that installed it.
    let mut installed_by_stage: Vec<HashMap<String, usize>> = Vec::new();
    for stage in &model.stages {
        let mut installed = match stage.parent().and_then(|p| installed_by_stage.get(p)) {
            Some(parent) => {
                let size = parent.keys().map(|k| k.len() + 64).sum();
                budget.spend(size).map_err(|_| TooMuchWork {
                    line: stage.from.line,
                })?;
                parent.clone()
            }
            None => HashMap::new(),
        };
        for (run, commands) in model.runs(stage) {
            let removed = removals(commands, &mut installed, run.line);
            if !removed.is_empty() {
                out.push(removal_finding(run, &removed));
            }
        }
        installed_by_stage.push(installed);
    }
    Ok(())
}

/// Goes through one RUN's apt commands: the packages it removes that an
/// earlier RUN installed (with that RUN's line), in order; `installed` is
/// brought up to date.
fn removals(
    commands: &[Command],
    installed: &mut HashMap<String, usize>,
    line: usize,
) -> Vec<(String, usize)> {
    let mut here = HashSet::new();
    let mut removed = Vec::new();
    for command in commands {
        match apt(command) {
            Some(Apt::Install(packages)) => here.extend(packages),
            Some(Apt::Remove(packages)) => {
                for package in packages {
                    here.remove(&package);
                    if let Some(earlier) = installed.remove(&package) {
                        removed.push((package, earlier));
                    }
                }
            }
            _ => {}
        }
    }
    for package in here {
        installed.entry(package).or_insert(line);
    }
    removed
}

/// At most this many packages are named in one message.
const MAX_NAMED: usize = 5;

fn removal_finding(run: &Instruction, removed: &[(String, usize)]) -> RuleFinding {
    let mut named: Vec<String> = removed
        .iter()
        .take(MAX_NAMED)
        .map(|(package, line)| format!("{package} (installed by the RUN on line {line})"))
        .collect();
    if removed.len() > MAX_NAMED {
        named.push(format!("{} more", removed.len() - MAX_NAMED));
    }
    let message = format!(
        "`{}`: removes {}. The files stay in that earlier layer: removing a package in a \
         later layer hides it but does not make the image smaller. Install, use and remove \
         it in the same RUN (chain the commands with `&&`), or install it in a build stage \
         of its own.",
        run.excerpt(),
        named.join(", ")
    );
    finding(Rule::RemoveInLaterRun, run, message)
}

/// hadolint's list of archive extensions (`archiveFileFormatExtensions`):
/// an ADD of such a file is taken to be for its unpacking.
const ARCHIVES: [&str; 15] = [
    ".tar", ".Z", ".bz2", ".gz", ".lz", ".lzma", ".tZ", ".tb2", ".tbz", ".tbz2", ".tgz", ".tlz",
    ".tpz", ".txz", ".xz",
];

/// `add-instead-of-copy`: an ADD (sources substituted) with a source that
/// is neither a URL nor an archive to unpack.
fn add_instead_of_copy(model: &Model<'_>, out: &mut Vec<RuleFinding>) {
    let adds = model
        .stages
        .iter()
        .flat_map(|s| s.body)
        .filter(|i| i.keyword == Keyword::Add && i.heredoc.is_none());
    for add in adds {
        let Some((_, sources)) = model.expanded_words(add).and_then(<[String]>::split_last) else {
            continue;
        };
        let is_url = |s: &str| s.starts_with("http://") || s.starts_with("https://");
        let is_archive = |s: &str| ARCHIVES.iter().any(|x| s.ends_with(x));
        let Some(local) = sources.iter().find(|s| !is_url(s) && !is_archive(s)) else {
            continue;
        };
        let message = format!(
            "`{}`: `{}` is a local file or folder: copy it with `COPY`, which does just that. \
             `ADD` also downloads URLs and unpacks archives, so it hides what the line is for.",
            add.excerpt(),
            crate::dockerfile::excerpt(local)
        );
        out.push(finding(Rule::AddInsteadOfCopy, add, message));
    }
}

/// `cd-instead-of-workdir`: a RUN that runs `cd`.
fn cd_instead_of_workdir(model: &Model<'_>, out: &mut Vec<RuleFinding>) {
    for stage in &model.stages {
        for (run, commands) in model.runs(stage) {
            if commands.iter().any(|c| c.program() == "cd") {
                let message = format!(
                    "`{}`: `cd` changes the folder for this RUN only. Set the working \
                     directory with `WORKDIR`, which holds for the following RUN and CMD \
                     instructions.",
                    run.excerpt()
                );
                out.push(finding(Rule::CdInsteadOfWorkdir, run, message));
            }
        }
    }
}

/// `root`, `0`, `root:…`, `0:…` (`00` is uid 0 too).
fn is_root(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or(user);
    name == "root" || (!name.is_empty() && name.bytes().all(|b| b == b'0'))
}

const CREATE_USER: &str = "create a user (`RUN useradd --create-home student`) and switch to \
                           it with `USER student`";

/// `root-user`: the last USER of the stages the final image is built from
/// is root, or there is none. A USER whose value does not expand is not
/// judged.
fn root_user(model: &Model<'_>, out: &mut Vec<RuleFinding>) {
    let lineage = model.final_lineage();
    for &index in &lineage {
        let stage: &Stage<'_> = &model.stages[index];
        let Some(user) = stage.body.iter().rev().find(|i| i.keyword == Keyword::User) else {
            continue;
        };
        if let Some([value]) = model.expanded_words(user)
            && is_root(value)
        {
            let message = format!(
                "`{}` is the last USER of the final image, so its containers run as root, a \
                 serious security problem: {CREATE_USER}.",
                user.excerpt()
            );
            out.push(finding(Rule::RootUser, user, message));
        }
        return;
    }
    let (Some(&last), Some(&first)) = (lineage.first(), lineage.last()) else {
        return;
    };
    if matches!(model.stages[first].base, Base::Unresolved) {
        return;
    }
    let from = model.stages[last].from;
    let message = format!(
        "`{}`: the final image sets no USER, so its containers run as root, a serious \
         security problem: {CREATE_USER}.",
        from.excerpt()
    );
    out.push(finding(Rule::RootUser, from, message));
}

/// Sources that name the whole build context.
const WHOLE_CONTEXT: [&str; 5] = [".", "./", "/", "*", "./*"];

/// `copy-all-without-dockerignore`: a COPY or ADD from the build context
/// whose source is all of it.
fn copy_all(model: &Model<'_>, out: &mut Vec<RuleFinding>) {
    let copies = model.stages.iter().flat_map(|s| s.body).filter(|i| {
        matches!(i.keyword, Keyword::Copy | Keyword::Add) && i.flag_values("from").next().is_none()
    });
    for copy in copies {
        let Some((_, sources)) = copy.words().split_last() else {
            continue;
        };
        let whole = sources
            .iter()
            .any(|s| WHOLE_CONTEXT.contains(&s.trim_matches(['"', '\''])));
        if whole {
            let message = format!(
                "`{}` copies the whole build context, and there is no .dockerignore: every \
                 file next to the Dockerfile, data files too, goes into the image. Only \
                 include the files you are sure are required: copy them by name, or list \
                 what to leave out in a .dockerignore.",
                copy.excerpt()
            );
            out.push(finding(Rule::CopyAllWithoutDockerignore, copy, message));
        }
    }
}
