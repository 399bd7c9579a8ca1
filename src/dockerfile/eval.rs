//! The stages walked in order as the legacy builder dispatches them, with
//! variables substituted, and what they would make the daemon fetch.
//!
//! - FROM resolves, after substitution with the global ARGs, to an earlier
//!   stage (by name, case-insensitively), `scratch`, or an image to pull.
//!   A stage built FROM an earlier one inherits its environment and first
//!   runs that stage's ONBUILD triggers, re-read as Docker re-reads them
//!   (default escape): a trigger can fetch too.
//! - `COPY --from=` is not substituted by the legacy builder: an earlier
//!   stage's name, else an integer (an earlier stage's index, or an error),
//!   else an image to pull.
//! - ADD's sources are substituted like the rest of its words; one starting
//!   with `http://` or `https://` is downloaded by the daemon. Docker 20.10
//!   reads `git://…` and `git@…` sources as local paths, and matches the
//!   scheme case-sensitively; both are listed as URLs anyway, as stricter.
//!
//! The list errs on the side of listing: every stage is read, even past a
//! `--target`, and instructions the daemon would reject before reaching
//! them (an unknown flag, a bad stage name) are still read; only a word that
//! fails to expand (the daemon fails that step before fetching) lists
//! nothing.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::rc::Rc;

use super::lex::{self, Budget, LexError, Vars};
use super::scope::{Env, GlobalArgs, StageScope, image_env};
use super::{Arguments, Dockerfile, Instruction, Keyword, excerpt, go_lowercase};

/// Work allowed for every Dockerfile, and per byte of its instructions.
const BASE_WORK: usize = 1 << 22;
const WORK_PER_BYTE: usize = 64;

/// Something the daemon would fetch from elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemoteSource {
    /// 1-based line of the instruction (for a trigger, of its ONBUILD).
    pub(crate) line: usize,
    /// ADD, FROM, COPY, or ONBUILD for a trigger.
    pub(crate) keyword: Keyword,
    pub(crate) kind: RemoteKind,
    /// The instruction's text, safe to print and bounded.
    pub(crate) excerpt: String,
    /// For an ONBUILD trigger: the line of the FROM that runs it.
    pub(crate) triggered_by: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RemoteKind {
    /// An ADD source the daemon downloads (after substitution).
    Url(String),
    /// An image reference FROM or `COPY --from` names (the daemon pulls it
    /// unless it has it).
    Image(String),
}

/// What a FROM builds on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Base {
    Scratch,
    /// An earlier stage, by index.
    Stage(usize),
    Image(String),
    /// No name, or one that does not expand: the daemon fails here.
    Unresolved,
}

/// A stage: its FROM line, `AS` name (lower-cased, as Docker keeps it) and base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvedStage {
    pub(crate) line: usize,
    pub(crate) name: Option<String>,
    pub(crate) base: Base,
}

/// What `COPY --from=` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CopyFrom {
    Stage(usize),
    Image(String),
    /// An integer that is no earlier stage's index: the daemon fails here.
    InvalidIndex(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvedCopy {
    pub(crate) line: usize,
    pub(crate) from: CopyFrom,
}

/// A USER's value or an ADD's words after substitution, for the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExpandedWords {
    pub(crate) line: usize,
    pub(crate) keyword: Keyword,
    /// `None` when a word does not expand (the daemon fails that step).
    pub(crate) words: Option<Vec<String>>,
}

/// A Dockerfile's stages, `COPY --from` sources and remote sources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Evaluation {
    pub(crate) stages: Vec<ResolvedStage>,
    pub(crate) copies: Vec<ResolvedCopy>,
    pub(crate) remote: Vec<RemoteSource>,
    /// Each USER and ADD written in a stage (not those an ONBUILD trigger
    /// runs), expanded as the daemon would; only when asked for.
    pub(crate) expanded: Vec<ExpandedWords>,
}

/// Reading the Dockerfile needed more work than its length allows (values
/// referenced over and over, long chains of stages): refuse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooMuchWork {
    pub(crate) line: usize,
}

impl fmt::Display for TooMuchWork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: reading this Dockerfile takes more work than dockgrade allows for its \
             length (variables expanded over and over, or long chains of stages)",
            self.line
        )
    }
}

impl std::error::Error for TooMuchWork {}

/// The work allowed for reading `dockerfile`: a base, and more per byte
/// of its instructions.
pub(super) fn work_budget(dockerfile: &Dockerfile) -> Budget {
    let size: usize = dockerfile.instructions.iter().map(|i| i.text.len()).sum();
    Budget::new(BASE_WORK.saturating_add(size.saturating_mul(WORK_PER_BYTE)))
}

/// What the daemon would fetch from elsewhere to build `dockerfile` with
/// these build arguments, in the order it would.
pub(crate) fn remote_sources(
    dockerfile: &Dockerfile,
    build_args: &BTreeMap<String, String>,
) -> Result<Vec<RemoteSource>, TooMuchWork> {
    evaluate(dockerfile, build_args, false).map(|e| e.remote)
}

/// Walks the stages as the legacy builder would; with `note_words`, also
/// expands each USER and notes it and each ADD in [`Evaluation::expanded`].
pub(crate) fn evaluate(
    dockerfile: &Dockerfile,
    build_args: &BTreeMap<String, String>,
    note_words: bool,
) -> Result<Evaluation, TooMuchWork> {
    let mut walk = Walk {
        escape: dockerfile.escape,
        note_words,
        budget: work_budget(dockerfile),
        out: Evaluation::default(),
        committed: Vec::new(),
        stage_names: HashMap::new(),
    };
    let instructions = &dockerfile.instructions;
    let is_from = |i: &Instruction| i.keyword == Keyword::From;
    let first_from = instructions
        .iter()
        .position(is_from)
        .unwrap_or(instructions.len());
    let mut global = GlobalArgs::new(build_args);
    // Only ARG may precede the first FROM; Docker rejects anything else.
    for arg in instructions[..first_from]
        .iter()
        .filter(|i| i.keyword == Keyword::Arg)
    {
        if let Some(pairs) = walk.arg_pairs(&global, arg, arg.line)? {
            for (name, value) in pairs {
                global.declare(name, value);
            }
        }
    }
    let mut start = first_from;
    while start < instructions.len() {
        let end = instructions[start + 1..]
            .iter()
            .position(is_from)
            .map_or(instructions.len(), |p| start + 1 + p);
        walk.stage(&global, &instructions[start], &instructions[start + 1..end])?;
        start = end;
    }
    Ok(walk.out)
}

/// An ONBUILD trigger registered by a stage, re-read on its own.
#[derive(Debug)]
struct Trigger {
    instruction: Instruction,
    origin: Origin,
}

/// A finished stage, as later stages see it.
#[derive(Debug)]
struct Committed {
    env: Env,
    triggers: Rc<[Trigger]>,
}

/// Where an instruction being run was written, for the report.
#[derive(Debug, Clone)]
struct Origin {
    line: usize,
    keyword: Keyword,
    excerpt: String,
    triggered_by: Option<usize>,
}

impl Origin {
    fn of(instruction: &Instruction) -> Origin {
        Origin {
            line: instruction.line,
            keyword: instruction.keyword.clone(),
            excerpt: instruction.excerpt(),
            triggered_by: None,
        }
    }
}

type Pairs = Vec<(String, Option<String>)>;

#[derive(Debug)]
struct Walk {
    escape: char,
    note_words: bool,
    budget: Budget,
    out: Evaluation,
    committed: Vec<Committed>,
    /// Earlier stages by name; the first of a name wins (Docker fails on a
    /// second one).
    stage_names: HashMap<String, usize>,
}

impl Walk {
    /// Expands one word; `None` when Docker fails the step on it.
    fn expand(
        &mut self,
        word: &str,
        vars: &dyn Vars,
        line: usize,
    ) -> Result<Option<String>, TooMuchWork> {
        match lex::expand(word, self.escape, vars, &mut self.budget) {
            Ok(expanded) => Ok(Some(expanded)),
            Err(LexError::Syntax(_)) => Ok(None),
            Err(LexError::Exhausted) => Err(TooMuchWork { line }),
        }
    }

    /// ARG's names and values, expanded (all of them before any is
    /// declared, as Docker does); `None` when one fails to expand.
    fn arg_pairs(
        &mut self,
        vars: &dyn Vars,
        arg: &Instruction,
        line: usize,
    ) -> Result<Option<Pairs>, TooMuchWork> {
        let mut pairs = Vec::new();
        for word in arg.words() {
            let (name, value) = match word.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (word.as_str(), None),
            };
            let Some(name) = self.expand(name, vars, line)? else {
                return Ok(None);
            };
            let value = match value {
                Some(value) => match self.expand(value, vars, line)? {
                    Some(value) => Some(value),
                    None => return Ok(None),
                },
                None => None,
            };
            pairs.push((name, value));
        }
        Ok(Some(pairs))
    }

    /// One stage: its FROM, the triggers of the stage it is built on, its
    /// instructions.
    fn stage(
        &mut self,
        global: &GlobalArgs<'_>,
        from: &Instruction,
        body: &[Instruction],
    ) -> Result<(), TooMuchWork> {
        let (base, name) = self.resolve_from(global, from)?;
        self.out.stages.push(ResolvedStage {
            line: from.line,
            name: name.clone(),
            base: base.clone(),
        });
        let (env, inherited) = match &base {
            Base::Stage(index) => {
                let parent = &self.committed[*index];
                (parent.env.clone(), Some(parent.triggers.clone()))
            }
            Base::Image(image) => {
                self.remote(&Origin::of(from), RemoteKind::Image(image.clone()));
                (image_env(), None)
            }
            Base::Scratch | Base::Unresolved => (image_env(), None),
        };
        let mut scope = StageScope::new(global, env);
        let mut triggers = Vec::new();
        for trigger in inherited.iter().flat_map(|t| t.iter()) {
            let origin = Origin {
                triggered_by: Some(from.line),
                ..trigger.origin.clone()
            };
            self.budget
                .spend(trigger.instruction.text.len())
                .map_err(|_| TooMuchWork { line: from.line })?;
            self.run(&mut scope, &trigger.instruction, &origin, &mut triggers)?;
        }
        for instruction in body {
            self.run(
                &mut scope,
                instruction,
                &Origin::of(instruction),
                &mut triggers,
            )?;
        }
        if let Some(name) = &name {
            let index = self.committed.len();
            self.stage_names.entry(name.clone()).or_insert(index);
        }
        self.committed.push(Committed {
            env: scope.into_env(),
            triggers: triggers.into(),
        });
        Ok(())
    }

    /// FROM's base, expanded with the global ARGs, and its `AS` name.
    fn resolve_from(
        &mut self,
        global: &GlobalArgs<'_>,
        from: &Instruction,
    ) -> Result<(Base, Option<String>), TooMuchWork> {
        let words = from.words();
        let name = match words {
            [_, as_, name] if is_as(as_) => Some(go_lowercase(name)),
            _ => None,
        };
        let Some(word) = words.first() else {
            return Ok((Base::Unresolved, name));
        };
        let base = match self.expand(word, global, from.line)? {
            None => Base::Unresolved,
            Some(image) if image.is_empty() => Base::Unresolved,
            Some(image) => match self.stage_names.get(&go_lowercase(&image)) {
                Some(&index) => Base::Stage(index),
                None if image == "scratch" => Base::Scratch,
                None => Base::Image(image),
            },
        };
        Ok((base, name))
    }

    /// Runs one instruction of a stage for what it changes or fetches.
    fn run(
        &mut self,
        scope: &mut StageScope<'_, '_>,
        instruction: &Instruction,
        origin: &Origin,
        triggers: &mut Vec<Trigger>,
    ) -> Result<(), TooMuchWork> {
        match instruction.keyword {
            Keyword::Arg => {
                if let Some(pairs) = self.arg_pairs(scope, instruction, origin.line)? {
                    for (name, value) in pairs {
                        scope.declare(name, value);
                    }
                }
            }
            Keyword::Env => self.env(scope, instruction, origin.line)?,
            Keyword::Add => self.add(scope, instruction, origin)?,
            Keyword::User if self.note_words => self.user(scope, instruction, origin)?,
            Keyword::Copy => self.copy(instruction, origin),
            Keyword::Onbuild if origin.triggered_by.is_none() => {
                triggers.extend(trigger(instruction));
            }
            _ => {}
        }
        Ok(())
    }

    /// ENV: every name and value expanded first, then set in order.
    fn env(
        &mut self,
        scope: &mut StageScope<'_, '_>,
        instruction: &Instruction,
        line: usize,
    ) -> Result<(), TooMuchWork> {
        let Arguments::Pairs(pairs) = &instruction.arguments else {
            return Ok(());
        };
        let mut expanded = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            let (Some(name), Some(value)) = (
                self.expand(name, scope, line)?,
                self.expand(value, scope, line)?,
            ) else {
                return Ok(());
            };
            expanded.push((name, value));
        }
        for (name, value) in expanded {
            scope
                .set_env(name, value, &mut self.budget)
                .map_err(|_| TooMuchWork { line })?;
        }
        Ok(())
    }

    /// ADD: `--chown`, the sources and the destination are expanded before
    /// anything is fetched; the sources that are URLs are listed.
    fn add(
        &mut self,
        scope: &StageScope<'_, '_>,
        instruction: &Instruction,
        origin: &Origin,
    ) -> Result<(), TooMuchWork> {
        if instruction.words().len() < 2 {
            return Ok(());
        }
        let expanded = self.add_words(scope, instruction, origin.line)?;
        if self.note_words {
            self.note_expanded(origin, Keyword::Add, expanded.clone());
        }
        let Some(mut expanded) = expanded else {
            return Ok(());
        };
        expanded.pop();
        for source in expanded.into_iter().filter(|s| is_remote_url(s)) {
            self.remote(origin, RemoteKind::Url(source));
        }
        Ok(())
    }

    /// ADD's words expanded; `None` when `--chown` or a word fails to.
    fn add_words(
        &mut self,
        scope: &StageScope<'_, '_>,
        instruction: &Instruction,
        line: usize,
    ) -> Result<Option<Vec<String>>, TooMuchWork> {
        for chown in instruction.flag_values("chown") {
            if self.expand(chown, scope, line)?.is_none() {
                return Ok(None);
            }
        }
        let words = instruction.words();
        let mut expanded = Vec::with_capacity(words.len());
        for word in words {
            let Some(word) = self.expand(word, scope, line)? else {
                return Ok(None);
            };
            expanded.push(word);
        }
        Ok(Some(expanded))
    }

    /// USER: its text is expanded as one word (`UserCommand.Expand`).
    fn user(
        &mut self,
        scope: &StageScope<'_, '_>,
        instruction: &Instruction,
        origin: &Origin,
    ) -> Result<(), TooMuchWork> {
        let Arguments::Text(text) = &instruction.arguments else {
            return Ok(());
        };
        let words = self.expand(text, scope, origin.line)?.map(|w| vec![w]);
        self.note_expanded(origin, Keyword::User, words);
        Ok(())
    }

    fn note_expanded(&mut self, origin: &Origin, keyword: Keyword, words: Option<Vec<String>>) {
        if origin.triggered_by.is_none() {
            self.out.expanded.push(ExpandedWords {
                line: origin.line,
                keyword,
                words,
            });
        }
    }

    /// COPY: each `--from=` value, not substituted.
    fn copy(&mut self, instruction: &Instruction, origin: &Origin) {
        for value in instruction.flag_values("from").filter(|v| !v.is_empty()) {
            let from = resolve_copy_from(value, &self.stage_names, self.committed.len());
            if let CopyFrom::Image(image) = &from {
                self.remote(origin, RemoteKind::Image(image.clone()));
            }
            self.out.copies.push(ResolvedCopy {
                line: origin.line,
                from,
            });
        }
    }

    fn remote(&mut self, origin: &Origin, kind: RemoteKind) {
        self.out.remote.push(RemoteSource {
            line: origin.line,
            keyword: origin.keyword.clone(),
            kind,
            excerpt: origin.excerpt.clone(),
            triggered_by: origin.triggered_by,
        });
    }
}

/// What `COPY --from=value` names, given the earlier stages' names (lower
/// case) and how many stages came before (Docker's `stagesBuildResults.get`).
pub(crate) fn resolve_copy_from(
    value: &str,
    names: &HashMap<String, usize>,
    earlier: usize,
) -> CopyFrom {
    if let Some(&index) = names.get(&go_lowercase(value)) {
        return CopyFrom::Stage(index);
    }
    match value.parse::<i64>() {
        Ok(index) => match usize::try_from(index) {
            Ok(index) if index < earlier => CopyFrom::Stage(index),
            _ => CopyFrom::InvalidIndex(value.to_string()),
        },
        Err(_) => CopyFrom::Image(value.to_string()),
    }
}

/// An ADD source the daemon (or a later Docker) would fetch.
pub(crate) fn is_remote_url(source: &str) -> bool {
    ["http://", "https://", "git://", "git@"]
        .iter()
        .any(|scheme| {
            source
                .get(..scheme.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
        })
}

/// Go's `strings.EqualFold(word, "as")`: `s` also folds with `ſ`.
fn is_as(word: &str) -> bool {
    let mut chars = word.chars();
    matches!(
        (chars.next(), chars.next(), chars.next()),
        (Some('a' | 'A'), Some('s' | 'S' | 'ſ'), None)
    )
}

/// The trigger an ONBUILD registers: Docker keeps its text without the
/// `ONBUILD` word and re-reads it with the default escape when a stage is
/// built FROM this one. ONBUILD, FROM and MAINTAINER are not triggers
/// (Docker rejects the file).
fn trigger(onbuild: &Instruction) -> Option<Trigger> {
    let text = &onbuild.text;
    let trimmed = text.trim_start_matches(['\t', '\n', '\u{c}', '\r', ' ']);
    let expression = match trimmed.get(..7) {
        Some(word) if word.eq_ignore_ascii_case("onbuild") => {
            trimmed[7..].trim_start_matches(['\t', '\n', '\u{c}', '\r', ' '])
        }
        _ => text.as_str(),
    };
    let parsed = Dockerfile::parse(expression).ok()?;
    let [instruction] = <[Instruction; 1]>::try_from(parsed.instructions).ok()?;
    if matches!(
        instruction.keyword,
        Keyword::Onbuild | Keyword::From | Keyword::Maintainer
    ) {
        return None;
    }
    Some(Trigger {
        instruction,
        origin: Origin {
            line: onbuild.line,
            keyword: Keyword::Onbuild,
            excerpt: excerpt(&onbuild.text),
            triggered_by: None,
        },
    })
}
