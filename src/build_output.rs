//! The legacy builder's account of a build, read line by line.
//!
//! `Step 2/5 : RUN …`, ` ---> Running in <id>`, ` ---> Using cache`,
//! ` ---> <id>`: from these lines alone one can tell what a build *created*
//! (the containers of its RUN steps, the layers it committed) from what
//! already *existed* (a `FROM` base, a step taken from the cache). Only the
//! former may be removed afterwards: a cached layer or a base may be another
//! build's, in use at that very moment. Read the same way by the engine (our
//! builds) and by the replay proxy (a live case's `docker build`).

/// What one line of build output says, when it says something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Said {
    /// `Step n/m : INSTRUCTION …`, trimmed and bounded, and a hash of the
    /// whole instruction (what the step was, whatever its number and length).
    Step(String, u64),
    /// A RUN step's container started (short id).
    RunningIn(String),
    /// The build committed this layer (short id).
    Created(String),
    /// The step was taken from the cache: this layer (short id) existed.
    Reused(String),
    /// A `FROM` step's base (short id): an image or an earlier stage.
    Base(String),
}

/// Reads a build's lines in order.
#[derive(Debug, Default)]
pub(crate) struct BuilderLines {
    /// The next ` ---> <id>` names an image that existed before this build.
    existing: bool,
    /// ... and it is a step taken from the cache (not a `FROM` base).
    cached: bool,
}

impl BuilderLines {
    pub fn read(&mut self, line: &str) -> Option<Said> {
        let line = line.trim();
        if let Some(step) = line.strip_prefix("Step ") {
            let instruction = step.split_once(" : ").map_or("", |(_, i)| i);
            self.existing = instruction
                .split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case("FROM"));
            self.cached = false;
            let key = instruction_key(instruction);
            return Some(Said::Step(line.chars().take(200).collect(), key));
        }
        let said = line.strip_prefix("---> ")?;
        if said == "Using cache" {
            self.existing = true;
            self.cached = true;
            None
        } else if let Some(id) = said.strip_prefix("Running in ") {
            // A step's container: what it commits is new.
            self.existing = false;
            self.cached = false;
            short_id(id).then(|| Said::RunningIn(id.to_string()))
        } else if short_id(said) && std::mem::take(&mut self.cached) {
            self.existing = false;
            Some(Said::Reused(said.to_string()))
        } else if short_id(said) && !std::mem::take(&mut self.existing) {
            Some(Said::Created(said.to_string()))
        } else if short_id(said) {
            Some(Said::Base(said.to_string()))
        } else {
            None
        }
    }
}

/// The build's lines as the student should read them. dockgrade's labels
/// reach the legacy builder as one `LABEL` instruction each, appended after
/// the student's last: `Step 4/10` for a Dockerfile of five instructions.
/// These lines count the student's instructions only (`Step 4/5`), and the
/// appended steps, with what they print, are left out.
#[derive(Debug)]
pub(crate) struct StudentLines {
    /// Instructions dockgrade appended.
    appended: usize,
    /// Inside an appended step: its lines are not shown.
    hiding: bool,
}

impl StudentLines {
    pub fn new(appended: usize) -> StudentLines {
        StudentLines {
            appended,
            hiding: false,
        }
    }

    /// `line` as shown, or `None` when it is dockgrade's own.
    pub fn show(&mut self, line: &str) -> Option<String> {
        let Some(step) = line.trim_start().strip_prefix("Step ") else {
            return (!self.hiding).then(|| line.to_string());
        };
        let parsed = step.split_once(" : ").and_then(|(counter, rest)| {
            let (n, m) = counter.split_once('/')?;
            Some((n.parse::<usize>().ok()?, m.parse::<usize>().ok()?, rest))
        });
        let Some((n, m, rest)) = parsed else {
            return (!self.hiding).then(|| line.to_string());
        };
        let theirs = m.saturating_sub(self.appended);
        self.hiding = n > theirs;
        (!self.hiding).then(|| format!("Step {n}/{theirs} : {rest}"))
    }
}

/// A hash of a whole instruction (`RUN …`), however long: which step a
/// `Step n/m` line is, whatever its number.
pub(crate) fn instruction_key(instruction: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    instruction.trim().hash(&mut h);
    h.finish()
}

/// A 12-digit hexadecimal id as the builder prints it.
fn short_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_build_created_is_told_from_what_existed() {
        let mut lines = BuilderLines::default();
        let said: Vec<Option<Said>> = [
            "Step 1/4 : FROM busybox:1.35",
            " ---> c946ec559d45",
            "Step 2/4 : RUN echo cached",
            " ---> Using cache",
            " ---> 0123456789ab",
            "Step 3/4 : RUN echo new",
            " ---> Running in abcdefabcdef",
            "new",
            "Removing intermediate container abcdefabcdef",
            " ---> fedcbafedcba",
            "Step 4/4 : COPY x /x",
            " ---> 111111111111",
        ]
        .into_iter()
        .map(|l| lines.read(l))
        .collect();
        let created: Vec<&Said> = said
            .iter()
            .flatten()
            .filter(|s| !matches!(s, Said::Step(..)))
            .collect();
        assert_eq!(
            created,
            [
                &Said::Base("c946ec559d45".into()),
                &Said::Reused("0123456789ab".into()),
                &Said::RunningIn("abcdefabcdef".into()),
                &Said::Created("fedcbafedcba".into()),
                &Said::Created("111111111111".into()),
            ]
        );
        let Some(Said::Step(line, key)) = &said[0] else {
            panic!("{:?}", said[0]);
        };
        assert_eq!(line, "Step 1/4 : FROM busybox:1.35");
        // The same instruction, counted otherwise, is the same step.
        let again = BuilderLines::default().read("Step 1/9 : FROM busybox:1.35");
        assert_eq!(
            again,
            Some(Said::Step("Step 1/9 : FROM busybox:1.35".into(), *key))
        );
    }

    #[test]
    fn steps_count_the_students_instructions_only() {
        let mut shown = StudentLines::new(2);
        let out: Vec<Option<String>> = [
            "Step 1/4 : FROM busybox:1.35",
            " ---> c946ec559d45",
            "Step 2/4 : RUN echo hi",
            "hi",
            "Step 3/4 : LABEL io.dockgrade=1",
            " ---> Running in abcdefabcdef",
            "Step 4/4 : LABEL io.dockgrade.run=x",
            " ---> 111111111111",
            "Successfully built 111111111111",
        ]
        .into_iter()
        .map(|l| shown.show(l))
        .collect();
        assert_eq!(
            out.into_iter().flatten().collect::<Vec<_>>(),
            [
                "Step 1/2 : FROM busybox:1.35",
                " ---> c946ec559d45",
                "Step 2/2 : RUN echo hi",
                "hi",
            ]
        );
    }
}
