//! The course's advice about writing Dockerfiles, checked on the text alone
//! (no I/O, no daemon): each [`Rule`] has a stable id, a title, the hadolint
//! code that checks the same thing (if any), and a message in the course's
//! words. [`check_rules`] reads the Dockerfile with the module's own reader
//! (the legacy builder's rules), evaluates its stages and substitutions
//! with `eval`, splits each RUN into commands (`shell`) and reads its apt
//! commands (`apt`). `checks` holds one function per rule.
//!
//! Stages matter: USER and the apt lists are judged on the stages the final
//! image is built from (the last stage and the stages it is built FROM), a
//! package removed in a later RUN on the stages that RUN builds on. A base
//! image's own USER and packages are not known here: the course's images
//! run as root and the rules assume so. ONBUILD triggers are not checked.
//! The work is bounded by the module's budget, as for the rest of the
//! reader. `docs/dockerfile-rules.md` lists the rules and where they differ
//! from hadolint's.

mod apt;
mod checks;
mod shell;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use super::eval::{Base, ExpandedWords, TooMuchWork, evaluate, work_budget};
use super::lex::Budget;
use super::{Dockerfile, Instruction, Keyword, ParseError};
use shell::Command;

/// One piece of the course's advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// `FROM` an image without a tag.
    UntaggedFrom,
    /// `FROM` an image tagged `latest`.
    LatestFrom,
    /// `apt-get install` without `apt-get update` before it in the RUN.
    InstallWithoutUpdate,
    /// `apt-get update` without removing /var/lib/apt/lists in the RUN.
    AptListsKept,
    /// A package removed in a later RUN than the one that installed it.
    RemoveInLaterRun,
    /// `ADD` of a local file or folder, where `COPY` does.
    AddInsteadOfCopy,
    /// `cd` in a RUN, where `WORKDIR` does.
    CdInsteadOfWorkdir,
    /// The final image runs as root (only when the exercise asks for it).
    RootUser,
    /// `COPY .` (the whole build context) without a `.dockerignore`.
    CopyAllWithoutDockerignore,
}

/// The rules the course teaches. Left out: [`Rule::AptListsKept`] and
/// [`Rule::AddInsteadOfCopy`], which the tutorial never mentions (its own
/// Dockerfiles keep the apt lists, and accepted solutions use `ADD`).
const COURSE: [Rule; 7] = [
    Rule::UntaggedFrom,
    Rule::LatestFrom,
    Rule::InstallWithoutUpdate,
    Rule::RemoveInLaterRun,
    Rule::CdInsteadOfWorkdir,
    Rule::RootUser,
    Rule::CopyAllWithoutDockerignore,
];

impl Rule {
    pub const ALL: [Rule; 9] = [
        Rule::UntaggedFrom,
        Rule::LatestFrom,
        Rule::InstallWithoutUpdate,
        Rule::AptListsKept,
        Rule::RemoveInLaterRun,
        Rule::AddInsteadOfCopy,
        Rule::CdInsteadOfWorkdir,
        Rule::RootUser,
        Rule::CopyAllWithoutDockerignore,
    ];

    /// The stable id, as a spec or a report names the rule.
    pub fn id(self) -> &'static str {
        self.info().0
    }

    /// A short title.
    pub fn title(self) -> &'static str {
        self.info().1
    }

    /// The hadolint rule that checks the same thing, if one does.
    pub fn hadolint(self) -> Option<&'static str> {
        self.info().2
    }

    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.id() == id)
    }

    /// The rules the course teaches.
    pub fn course() -> &'static [Rule] {
        &COURSE
    }

    fn info(self) -> (&'static str, &'static str, Option<&'static str>) {
        match self {
            Rule::UntaggedFrom => ("untagged-from", "base image without a tag", Some("DL3006")),
            Rule::LatestFrom => ("latest-from", "base image tagged latest", Some("DL3007")),
            Rule::InstallWithoutUpdate => (
                "install-without-update",
                "apt-get install without apt-get update in the same RUN",
                None,
            ),
            Rule::AptListsKept => (
                "apt-lists-kept",
                "apt lists left in the image",
                Some("DL3009"),
            ),
            Rule::RemoveInLaterRun => (
                "remove-in-later-run",
                "package removed in a later RUN than the one that installed it",
                None,
            ),
            Rule::AddInsteadOfCopy => (
                "add-instead-of-copy",
                "ADD of a local file where COPY does",
                Some("DL3020"),
            ),
            Rule::CdInsteadOfWorkdir => (
                "cd-instead-of-workdir",
                "cd in a RUN instead of WORKDIR",
                Some("DL3003"),
            ),
            Rule::RootUser => ("root-user", "the image runs as root", Some("DL3002")),
            Rule::CopyAllWithoutDockerignore => (
                "copy-all-without-dockerignore",
                "the whole build context copied without a .dockerignore",
                None,
            ),
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A rule that a Dockerfile breaks, where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFinding {
    pub rule: Rule,
    /// 1-based line where the instruction starts.
    pub line: usize,
    /// What is wrong and what to do, in the course's words, quoting at
    /// most 120 characters of the instruction.
    pub message: String,
}

/// What the exercise says about the submission, beyond its Dockerfile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleContext {
    /// The exercise wants the image to run as a user other than root.
    pub wants_non_root: bool,
    /// The build context has a `.dockerignore`.
    pub has_dockerignore: bool,
}

/// Why a Dockerfile could not be checked: Docker's parser would refuse it
/// too, or reading it takes more work than its length allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// 1-based line of the problem.
    pub line: usize,
    /// The whole message, its line included.
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RuleError {}

impl From<ParseError> for RuleError {
    fn from(e: ParseError) -> RuleError {
        RuleError {
            line: e.line,
            message: e.to_string(),
        }
    }
}

impl From<TooMuchWork> for RuleError {
    fn from(e: TooMuchWork) -> RuleError {
        RuleError {
            line: e.line,
            message: e.to_string(),
        }
    }
}

/// The findings of `rules` on the Dockerfile `text`, by line. Variables in
/// FROM, USER and ADD are substituted as Docker would without build
/// arguments (ARG defaults only); what does not resolve is not judged.
pub fn check_rules(
    text: &str,
    rules: &[Rule],
    cx: &RuleContext,
) -> Result<Vec<RuleFinding>, RuleError> {
    let dockerfile = Dockerfile::parse(text)?;
    let evaluation = evaluate(&dockerfile, &BTreeMap::new(), true)?;
    let mut budget = work_budget(&dockerfile);
    let model = Model::new(
        &dockerfile,
        &evaluation.stages,
        &evaluation.expanded,
        &mut budget,
    )?;
    let mut wanted = rules.to_vec();
    wanted.sort();
    wanted.dedup();
    let mut out = Vec::new();
    for rule in wanted {
        checks::check(rule, &model, cx, &mut budget, &mut out)?;
    }
    out.sort_by_key(|f| (f.line, f.rule));
    Ok(out)
}

/// A stage: its FROM, what it is built on, its other instructions.
#[derive(Debug)]
struct Stage<'a> {
    from: &'a Instruction,
    base: &'a Base,
    body: &'a [Instruction],
}

impl Stage<'_> {
    /// The earlier stage this one is built FROM.
    fn parent(&self) -> Option<usize> {
        match self.base {
            Base::Stage(index) => Some(*index),
            _ => None,
        }
    }
}

/// A Dockerfile read for the rules.
#[derive(Debug)]
struct Model<'a> {
    stages: Vec<Stage<'a>>,
    /// Each RUN's commands, by the RUN's line.
    commands: HashMap<usize, Vec<Command>>,
    /// USER and ADD words after substitution, by line.
    expanded: HashMap<usize, &'a ExpandedWords>,
}

impl<'a> Model<'a> {
    fn new(
        dockerfile: &'a Dockerfile,
        resolved: &'a [super::eval::ResolvedStage],
        expanded: &'a [ExpandedWords],
        budget: &mut Budget,
    ) -> Result<Model<'a>, TooMuchWork> {
        let instructions = &dockerfile.instructions;
        let froms: Vec<usize> = (0..instructions.len())
            .filter(|&i| instructions[i].keyword == Keyword::From)
            .collect();
        let mut stages = Vec::with_capacity(froms.len());
        for (k, (&start, resolved)) in froms.iter().zip(resolved).enumerate() {
            let end = froms.get(k + 1).copied().unwrap_or(instructions.len());
            stages.push(Stage {
                from: &instructions[start],
                base: &resolved.base,
                body: &instructions[start + 1..end],
            });
        }
        let mut commands = HashMap::new();
        for run in stages.iter().flat_map(|s| s.body) {
            if run.keyword == Keyword::Run {
                let split =
                    shell::run_commands(run, budget).map_err(|_| TooMuchWork { line: run.line })?;
                commands.insert(run.line, split);
            }
        }
        Ok(Model {
            stages,
            commands,
            expanded: expanded.iter().map(|e| (e.line, e)).collect(),
        })
    }

    /// Stage `index` and the stages it is built on, nearest first.
    fn lineage(&self, index: usize) -> Vec<usize> {
        let mut out = vec![index];
        let mut at = index;
        // A parent is always an earlier stage, so this ends.
        while let Some(parent) = self.stages.get(at).and_then(Stage::parent) {
            if parent >= at {
                break;
            }
            out.push(parent);
            at = parent;
        }
        out
    }

    /// The last stage and the stages it is built on.
    fn final_lineage(&self) -> Vec<usize> {
        self.stages
            .len()
            .checked_sub(1)
            .map_or_else(Vec::new, |last| self.lineage(last))
    }

    /// The RUNs of a stage with their commands.
    fn runs<'m>(
        &'m self,
        stage: &'m Stage<'a>,
    ) -> impl Iterator<Item = (&'a Instruction, &'m [Command])> + 'm {
        stage.body.iter().filter_map(|i| {
            let commands = self.commands.get(&i.line)?;
            (i.keyword == Keyword::Run).then_some((i, commands.as_slice()))
        })
    }

    /// The words of a USER or ADD after substitution; `None` when they do
    /// not expand or were not recorded.
    fn expanded_words(&self, instruction: &Instruction) -> Option<&'a [String]> {
        let e = self.expanded.get(&instruction.line)?;
        (e.keyword == instruction.keyword)
            .then_some(e.words.as_deref())
            .flatten()
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod course_tests;
