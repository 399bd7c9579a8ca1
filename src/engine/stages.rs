//! One run's builds of one Dockerfile must see the same stages. [`Trace`]
//! is what a build did, step by step; [`diverges`] tells when a later build
//! of the Dockerfile was handed, for a step, another image than the one the
//! run's first build of it ended that step on, and [`Engine::sources`] names
//! that build's images, for building the later one again from them alone
//! (`cache_from`).
//!
//! Why: the legacy builder hands a step the *newest* cached image with the
//! same parent and instruction. Runs of a `batch` or `validate` share the
//! cache, and two of them that build the same stage at the same moment both
//! miss it and leave two equal layers. A run's first build (the whole
//! Dockerfile) stands on its own layer; its `--target downloader` build,
//! made a moment later, is handed the other run's, newer. Its final image,
//! built `FROM downloader`, then seems not to be built on its downloader
//! stage, and a check that the last stage starts afresh passes.
//!
//! The legacy builder builds the stages in order, up to the target, so two
//! builds of one Dockerfile take the same steps until one of them ends (or
//! dockgrade's `LABEL`s begin): they are compared step by step, by a hash
//! of the whole instruction. With `cache_from` the builder takes a step's
//! image only from the named images' chains: given every image of the first
//! build, in the order it made them, it hands back exactly those (moby's
//! `image/cache`: the source whose history ends with the step). Where it
//! cannot, it restores an image of a source's layers and reports it as
//! cached: that one is this run's, recorded for removal. A build still on
//! other stages after that (the first build's images were gone, say) is
//! marked (`ImageFacts::stages_differ`), and a check comparing its layers
//! with another image's is not decided rather than guessed.

use std::collections::BTreeSet;

use super::Engine;

/// Most steps a trace keeps (a Dockerfile of more is compared on these).
const MOST_STEPS: usize = 2_000;

/// One step of a build: its instruction and the image it ended on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TracedStep {
    /// `RUN apt-get …`, as the `Step n/m : …` line gives it (bounded).
    pub instruction: String,
    /// A hash of the whole instruction.
    pub key: u64,
    /// The image (short id) after the step: a base for `FROM`; empty for
    /// `FROM scratch`, or while the step runs.
    pub image: String,
}

/// What one build did, step by step, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Trace {
    pub steps: Vec<TracedStep>,
}

impl Trace {
    /// A step begins (its `Step n/m : …` line).
    pub fn begin(&mut self, step_line: &str, key: u64) {
        if self.steps.len() < MOST_STEPS {
            self.steps.push(TracedStep {
                instruction: instruction_of(step_line).to_string(),
                key,
                image: String::new(),
            });
        }
    }

    /// The step under way ended on `image` (the first image it names).
    pub fn ended_on(&mut self, image: &str) {
        if let Some(step) = self.steps.last_mut()
            && step.image.is_empty()
        {
            step.image = image.to_string();
        }
    }

    /// Every image of the trace (short ids), each once, in order.
    pub fn images(&self) -> Vec<&str> {
        images(&self.steps)
    }

    /// Every image of the trace, as a set to look ids up in.
    pub fn image_set(&self) -> std::collections::HashSet<String> {
        self.images().into_iter().map(str::to_string).collect()
    }

    /// The images of the steps `later` shares with this trace (the same
    /// instructions, in the same order, from the first), each once, in
    /// order: the only sources a build of `later`'s steps may be given. An
    /// image of a step it does not take would let the builder hand it that
    /// step's ancestors, which may be another run's (two stages of one
    /// build that start alike can stand on different runs' layers).
    pub fn shared_images(&self, later: &Trace) -> Vec<&str> {
        let shared = self
            .steps
            .iter()
            .zip(&later.steps)
            .take_while(|(a, b)| a.key == b.key)
            .count();
        images(&self.steps[..shared])
    }
}

fn images(steps: &[TracedStep]) -> Vec<&str> {
    let mut seen = BTreeSet::new();
    steps
        .iter()
        .map(|s| s.image.as_str())
        .filter(|i| !i.is_empty() && seen.insert(*i))
        .collect()
}

/// `RUN x` of `Step 2/5 : RUN x`.
fn instruction_of(step_line: &str) -> &str {
    step_line
        .split_once(" : ")
        .map_or(step_line, |(_, i)| i)
        .trim()
}

/// The first step `later` ended on another image than `earlier` did for
/// the same step (the same instruction, after the same steps), said as a
/// sentence.
pub(crate) fn diverges(later: &Trace, earlier: &Trace) -> Option<String> {
    later
        .steps
        .iter()
        .zip(&earlier.steps)
        .take_while(|(a, b)| a.key == b.key)
        .find(|(a, b)| !a.image.is_empty() && !b.image.is_empty() && a.image != b.image)
        .map(|(a, b)| {
            format!(
                "`{}` gave {} where the first build of this Dockerfile had {}",
                a.instruction, a.image, b.image
            )
        })
}

/// A build handed another run's images, and how to build it on this run's.
#[derive(Debug, Clone)]
pub(crate) struct Diverged {
    /// Which step, said as a sentence.
    pub why: String,
    /// The first build's images (full ids), to take the cache from; empty
    /// when this build already took it from them.
    pub sources: Vec<String>,
}

impl Engine {
    /// Compares a finished build's `trace` with the first build of its
    /// Dockerfile in this run, and keeps it for the builds after it.
    pub(super) async fn compare_with_first(
        &self,
        req: &super::BuildRequest,
        first: Option<&Trace>,
        trace: Trace,
    ) -> Option<Diverged> {
        // Built without the cache, it was handed nothing.
        let first = first.filter(|_| !req.no_cache);
        let diverged = match first.and_then(|f| diverges(&trace, f).map(|why| (f, why))) {
            None => None,
            Some((first, why)) => {
                // From the first build's images, it is not built again.
                let sources = match req.cache_from.is_empty() {
                    true => self.sources(&first.shared_images(&trace)).await,
                    false => Vec::new(),
                };
                Some(Diverged { why, sources })
            }
        };
        self.remember_build(&req.tag, trace);
        diverged
    }

    /// Keeps what a build of `tag` did, for later builds of its Dockerfile.
    fn remember_build(&self, tag: &str, trace: Trace) {
        // A removal of the whole kept cache must leave them to this run.
        if let Some(kept) = &self.kept {
            kept.pin(&self.run_id, trace.images());
        }
        if let Ok(mut traces) = self.traces.lock() {
            traces.insert(tag.to_string(), trace);
        }
    }

    /// Forgets an earlier build of `tag` (a case of a live exercise before
    /// this one, in `validate`).
    pub(super) fn forget_build(&self, tag: &str) {
        if let Ok(mut traces) = self.traces.lock() {
            traces.remove(tag);
        }
    }

    /// The trace of the first of the builds tagged `tags` that this run
    /// remembers: the one later builds of its Dockerfile must agree with.
    pub(super) fn first_trace(&self, tags: &[String]) -> Option<Trace> {
        let traces = self.traces.lock().ok()?;
        tags.iter().find_map(|t| traces.get(t).cloned())
    }

    /// The full ids of `images`, in order: what a build that diverged from
    /// the first build takes its cache from.
    async fn sources(&self, images: &[&str]) -> Vec<String> {
        let mut ids = Vec::new();
        for image in images {
            if let Ok(found) = self.docker.inspect_image(image).await
                && let Some(id) = found.id
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

    /// A trace of (instruction, image) steps.
    fn trace(steps: &[(&str, &str)]) -> Trace {
        let mut t = Trace::default();
        for (i, (instruction, image)) in steps.iter().enumerate() {
            let key = crate::build_output::instruction_key(instruction);
            t.begin(&format!("Step {}/9 : {instruction}", i + 1), key);
            t.ended_on(image);
        }
        t
    }

    const WHOLE: &[(&str, &str)] = &[
        ("FROM busybox AS downloader", "base"),
        ("WORKDIR /software", "workdir-a"),
        ("RUN fetch", "fetched-a"),
        ("FROM busybox", "base"),
        ("WORKDIR /software", "workdir-a"),
        ("COPY --from=downloader /x .", "copied-a"),
    ];

    #[test]
    fn a_later_build_handed_another_runs_layer_diverges() {
        let whole = trace(WHOLE);
        let target = trace(&WHOLE[..3]);
        assert_eq!(diverges(&target, &whole), None);
        assert_eq!(diverges(&whole, &target), None, "either may come first");
        let handed = trace(&[
            ("FROM busybox AS downloader", "base"),
            ("WORKDIR /software", "workdir-a"),
            ("RUN fetch", "fetched-b"),
        ]);
        let why = diverges(&handed, &whole).expect("diverges");
        assert!(why.contains("`RUN fetch` gave fetched-b"), "{why}");
        assert!(why.contains("had fetched-a"), "{why}");
    }

    #[test]
    fn steps_are_compared_in_order_until_the_builds_part() {
        let whole = trace(WHOLE);
        // A step repeated in two stages is compared where it stands: the
        // second stage's WORKDIR handed another image diverges, though the
        // first stage's is the same.
        let mut second = WHOLE.to_vec();
        second[4].1 = "workdir-b";
        assert!(diverges(&trace(&second), &whole).is_some());
        // After the first step that differs, nothing is compared (the
        // appended LABELs, or another stage).
        let hello = trace(&[
            ("FROM busybox AS downloader", "base"),
            ("WORKDIR /software", "workdir-a"),
            ("RUN fetch", "fetched-a"),
            ("FROM busybox AS hello", "base"),
            ("RUN echo hello", "hello-1"),
            ("FROM busybox", "base"),
            ("WORKDIR /software", "workdir-b"),
        ]);
        assert_eq!(diverges(&hello, &whole), None);
        // `FROM scratch` names no image: it is a step all the same.
        let scratch = trace(&[("FROM scratch", ""), ("COPY x /", "x-a")]);
        let other = trace(&[("FROM scratch", ""), ("COPY x /", "x-b")]);
        assert!(diverges(&other, &scratch).is_some());
    }

    #[test]
    fn images_are_each_named_once_in_the_order_they_came() {
        assert_eq!(
            trace(WHOLE).images(),
            ["base", "workdir-a", "fetched-a", "copied-a"]
        );
        let mut t = Trace::default();
        t.begin("Step 1/2 : FROM busybox", 1);
        t.ended_on("base");
        t.ended_on("not-a-step-of-its-own");
        assert_eq!(t.images(), ["base"]);
        // The images of the steps a later build shares, not those of the
        // stage it does not build.
        let target = trace(&WHOLE[..3]);
        assert_eq!(
            trace(WHOLE).shared_images(&target),
            ["base", "workdir-a", "fetched-a"]
        );
        assert!(trace(WHOLE).shared_images(&Trace::default()).is_empty());
        let mut long = Trace::default();
        for i in 0..MOST_STEPS + 10 {
            long.begin("Step 1/1 : RUN x", 1);
            long.ended_on(&format!("{i}"));
        }
        assert_eq!(long.steps.len(), MOST_STEPS);
    }
}
