//! One run's builds of one Dockerfile must see the same stages. [`Trace`]
//! is what a build did, step by step; [`diverges`] tells when a later build
//! of the Dockerfile was handed layers other than the ones an earlier build
//! of this run made or took for the very same step, and [`Engine::sources`]
//! names the earlier builds' stages for building it again from them alone
//! (`cache_from`).
//!
//! Why: the legacy builder hands a step the *newest* cached layer with the
//! same parent and instruction. Runs of a `batch` or `validate` share the
//! cache, and two of them that build the same stage at the same moment both
//! miss it and leave two equal layers. A run's first build (the whole
//! Dockerfile) stands on its own layer; its `--target downloader` build,
//! made a moment later, is handed the other run's, newer. Its final image,
//! built `FROM downloader`, then seems not to be built on its downloader
//! stage, and a check that the last stage starts afresh passes. With
//! `cache_from` the builder takes a layer only from the named images'
//! chains (restoring, where needed, an image of their layers: the build
//! reports it as cached, and it is this run's to remove).

use std::collections::{BTreeSet, HashMap};

use super::Engine;

/// Most steps a trace keeps (a Dockerfile of more is compared on these).
const MOST_STEPS: usize = 2_000;

/// One step of a build: its instruction and the image it ended on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TracedStep {
    /// `RUN apt-get …`, as the `Step n/m : …` line gives it (bounded).
    pub instruction: String,
    /// The image (short id) after the step: a base for `FROM`.
    pub image: String,
}

/// What one build did, step by step, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Trace {
    pub steps: Vec<TracedStep>,
}

impl Trace {
    /// Adds the image a step ended on.
    pub fn push(&mut self, step_line: &str, image: &str) {
        if self.steps.len() < MOST_STEPS {
            self.steps.push(TracedStep {
                instruction: instruction_of(step_line).to_string(),
                image: image.to_string(),
            });
        }
    }

    /// Every image of the trace (short ids).
    pub fn images(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().map(|s| s.image.as_str())
    }

    /// (parent, instruction) → image, for every step that is not a `FROM`.
    fn edges(&self) -> HashMap<(&str, &str), &str> {
        self.links()
            .map(|(parent, s)| ((parent, s.instruction.as_str()), s.image.as_str()))
            .collect()
    }

    /// Each step that is not a `FROM`, with the image it started from.
    fn links(&self) -> impl Iterator<Item = (&str, &TracedStep)> {
        self.steps
            .windows(2)
            .filter_map(|w| (!is_from(&w[1].instruction)).then_some((w[0].image.as_str(), &w[1])))
    }

    /// The last image of each stage: the chains `cache_from` may take from.
    pub fn stage_ends(&self) -> Vec<&str> {
        let mut ends: Vec<&str> = self
            .steps
            .windows(2)
            .filter(|w| is_from(&w[1].instruction))
            .map(|w| w[0].image.as_str())
            .collect();
        ends.extend(self.steps.last().map(|s| s.image.as_str()));
        ends
    }
}

/// `RUN x` of `Step 2/5 : RUN x`.
fn instruction_of(step_line: &str) -> &str {
    step_line
        .split_once(" : ")
        .map_or(step_line, |(_, i)| i)
        .trim()
}

fn is_from(instruction: &str) -> bool {
    instruction
        .split_whitespace()
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("FROM"))
}

/// The first step of `later` that started from the same image, with the same
/// instruction, as a step of `earlier`, and ended elsewhere, said as a
/// sentence.
pub(crate) fn diverges(later: &Trace, earlier: &Trace) -> Option<String> {
    let before = earlier.edges();
    later.links().find_map(|(parent, step)| {
        let theirs = before.get(&(parent, step.instruction.as_str()))?;
        (*theirs != step.image).then(|| {
            format!(
                "`{}` gave {} where an earlier build of this Dockerfile had {theirs}",
                step.instruction, step.image
            )
        })
    })
}

impl Engine {
    /// Keeps what a build of `tag` did, for later builds of its Dockerfile.
    pub(super) fn remember_build(&self, tag: &str, trace: Trace) {
        if let Ok(mut traces) = self.traces.lock() {
            traces.insert(tag.to_string(), trace);
        }
    }

    /// The traces of the builds tagged `tags` that this run remembers.
    pub(super) fn traces_of(&self, tags: &[String]) -> Vec<Trace> {
        let Ok(traces) = self.traces.lock() else {
            return Vec::new();
        };
        tags.iter().filter_map(|t| traces.get(t).cloned()).collect()
    }

    /// The full ids of the stages of the earlier builds `tags`: what a build
    /// that diverged from them takes its cache from.
    pub(super) async fn sources(&self, tags: &[String]) -> Vec<String> {
        let ends: BTreeSet<String> = self
            .traces_of(tags)
            .iter()
            .flat_map(|t| t.stage_ends().into_iter().map(str::to_string))
            .collect();
        let mut ids = Vec::new();
        for end in ends {
            if let Ok(image) = self.docker.inspect_image(&end).await
                && let Some(id) = image.id
            {
                ids.push(id);
            }
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(steps: &[(&str, &str)]) -> Trace {
        let mut t = Trace::default();
        for (i, (instruction, image)) in steps.iter().enumerate() {
            t.push(&format!("Step {}/9 : {instruction}", i + 1), image);
        }
        t
    }

    const WHOLE: &[(&str, &str)] = &[
        ("FROM busybox AS downloader", "base"),
        ("RUN fetch", "fetched-a"),
        ("RUN unpack", "unpacked-a"),
        ("FROM downloader", "unpacked-a"),
        ("CMD [\"x\"]", "final-a"),
    ];

    #[test]
    fn a_later_build_handed_another_runs_layer_diverges() {
        let whole = trace(WHOLE);
        let same = trace(&WHOLE[..3]);
        assert_eq!(diverges(&same, &whole), None);
        let other = trace(&[
            ("FROM busybox AS downloader", "base"),
            ("RUN fetch", "fetched-b"),
            ("RUN unpack", "unpacked-b"),
        ]);
        let why = diverges(&other, &whole).expect("diverges");
        assert!(why.contains("`RUN fetch` gave fetched-b"), "{why}");
        assert!(why.contains("fetched-a"), "{why}");
    }

    #[test]
    fn steps_the_earlier_build_never_made_are_not_compared() {
        let whole = trace(WHOLE);
        // Another stage from the same base, and a step after a new parent.
        let hello = trace(&[
            ("FROM busybox AS hello", "base"),
            ("RUN echo hello", "hello-1"),
            ("FROM busybox AS downloader", "base"),
            ("RUN fetch", "fetched-a"),
        ]);
        assert_eq!(diverges(&hello, &whole), None);
        // A FROM names a base, not a step taken from the cache.
        let rebased = trace(&[("FROM busybox:1.36 AS downloader", "other-base")]);
        assert_eq!(diverges(&rebased, &whole), None);
    }

    #[test]
    fn stage_ends_are_the_images_before_each_from_and_the_last() {
        assert_eq!(
            trace(WHOLE).stage_ends(),
            ["unpacked-a", "final-a"],
            "a stage is what the next FROM follows"
        );
        assert!(Trace::default().stage_ends().is_empty());
        let mut long = Trace::default();
        for i in 0..MOST_STEPS + 10 {
            long.push("Step 1/1 : RUN x", &format!("{i}"));
        }
        assert_eq!(long.steps.len(), MOST_STEPS);
    }
}
