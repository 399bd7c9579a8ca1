//! The plan: what to do against the daemon for one exercise, decided up front.
//!
//! Planning is pure. It orders the steps into waves that may run at the same
//! time, names the images dockgrade will tag (in its own namespace, never a
//! user's tag), and gathers per image *everything* its checks will look at,
//! so the engine inspects each image once and probes all its files through
//! one created container.

use std::collections::{BTreeMap, BTreeSet};

use crate::names::image_tag;
use crate::sandbox::Network;
use crate::spec::{
    Assertion, BuildStep, DiskProbe, Exercise, HttpRequest, ImageSource, Placeholder, Step,
    StepKind, UserExpectation,
};

#[derive(Debug, Clone)]
pub struct Plan {
    pub steps: Vec<PlannedStep>,
    /// The exercise needs a network of its own: it has services, or runs
    /// that reach them.
    pub network: bool,
}

#[derive(Debug, Clone)]
pub struct PlannedStep {
    pub step: Step,
    /// Indices (into `Plan::steps`) that must finish, and succeed, first.
    pub needs: Vec<usize>,
    /// Indices that must finish first, however they end: a build of the
    /// same Dockerfile as an earlier one waits for it, so it reuses its
    /// layers from the cache instead of building them again (a second apt
    /// install, and layers that differ by their timestamps).
    pub after: Vec<usize>,
    /// For builds: the tags of the builds in `after` with the same build
    /// arguments, whose stages this one must see (see `engine::stages`).
    pub same_dockerfile_as: Vec<String>,
    /// For builds: the tag dockgrade gives the image.
    pub tag: Option<String>,
    /// What to look at in the step's image (or, for runs, container).
    pub probe: Probe,
}

/// What the checks on one step need to see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    pub files: BTreeMap<String, FileNeed>,
    /// Read /etc/passwd to resolve a user name.
    pub passwd: bool,
    /// Image references to resolve to ids (a live container's image is
    /// compared by identity, not by how it was named).
    pub images: BTreeSet<String>,
    /// Read the image's history (a size check explains itself with it).
    pub history: bool,
    /// Read what every layer holds, from the image's export.
    pub layers: bool,
    /// Requests to services, made when the step has finished.
    /// In the order the checks name them (a DELETE before a GET stays so).
    pub http: Vec<HttpRequest>,
    /// Disk use of services' paths, measured when the step has finished.
    pub disk: BTreeSet<DiskProbe>,
}

impl Probe {
    /// Whether the image's files need reading.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && !self.passwd
    }
}

/// How much of a file a check needs beyond its existence, type and mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileNeed {
    pub content: bool,
    pub owner: bool,
}

/// Builds the plan for `exercise` in run `run_id`.
pub fn plan(exercise: &Exercise, run_id: &str) -> Plan {
    let index: BTreeMap<&str, usize> = exercise
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let mut steps: Vec<PlannedStep> = exercise
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let at = |name: &str| index.get(name).copied();
            let mut needs: Vec<usize> = match &step.kind {
                StepKind::Image { .. } | StepKind::Container { .. } => Vec::new(),
                StepKind::Service(service) => match &service.image {
                    ImageSource::Step(name) => at(name).into_iter().collect(),
                    ImageSource::Reference(_) => Vec::new(),
                },
                StepKind::Push(push) => [at(&push.image), at(&push.registry)]
                    .into_iter()
                    .flatten()
                    .collect(),
                StepKind::Exec(exec) => at(&exec.service).into_iter().collect(),
                // A Dockerfile may start FROM any image named by an earlier
                // image step, so builds wait for those to be present.
                StepKind::Build(_) => exercise.steps[..i]
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| matches!(s.kind, StepKind::Image { .. }))
                    .map(|(j, _)| j)
                    .collect(),
                StepKind::Run(run) => match &run.image {
                    ImageSource::Step(name) => {
                        index.get(name.as_str()).copied().into_iter().collect()
                    }
                    ImageSource::Reference(_) => Vec::new(),
                },
            };
            needs.extend(step.after.iter().filter_map(|name| at(name)));
            let tag = matches!(step.kind, StepKind::Build(_))
                .then(|| image_tag(run_id, &exercise.id, &step.name));
            let after = match &step.kind {
                StepKind::Build(build) => exercise.steps[..i]
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| matches!(&s.kind, StepKind::Build(b) if same_source(b, build)))
                    .map(|(j, _)| j)
                    .collect(),
                _ => Vec::new(),
            };
            let same_dockerfile_as = same_dockerfile_as(exercise, run_id, step, &after);
            PlannedStep {
                step: step.clone(),
                needs,
                after,
                same_dockerfile_as,
                tag,
                probe: Probe::default(),
            }
        })
        .collect();
    gather_probes(exercise, &index, &mut steps);
    for s in &mut steps {
        s.needs.sort_unstable();
        s.needs.dedup();
    }
    let network = exercise.steps.iter().any(|s| match &s.kind {
        StepKind::Service(_) => true,
        StepKind::Run(run) => run.network == Network::Exercise,
        _ => false,
    });
    Plan { steps, network }
}

/// Gathers, per step, everything its checks will look at.
fn gather_probes(exercise: &Exercise, index: &BTreeMap<&str, usize>, steps: &mut [PlannedStep]) {
    for check in &exercise.checks {
        let Some(&i) = index.get(check.step.as_str()) else {
            continue;
        };
        let probe = &mut steps[i].probe;
        for a in &check.assertions {
            match a {
                Assertion::Files { present, absent } => {
                    for p in present {
                        let need = probe.files.entry(p.path.clone()).or_default();
                        need.owner |= p.uid.is_some() || p.gid.is_some();
                    }
                    for p in absent {
                        probe.files.entry(p.clone()).or_default();
                    }
                }
                Assertion::File { path, .. } => {
                    probe.files.entry(path.clone()).or_default().content = true
                }
                Assertion::User(UserExpectation::Uid(_) | UserExpectation::NotRoot) => {
                    probe.passwd = true
                }
                Assertion::Container(want) => probe.images.extend(want.image.clone()),
                Assertion::Layers(want) if !want.absent.is_empty() || !want.present.is_empty() => {
                    probe.layers = true
                }
                Assertion::Wasted { .. } | Assertion::Efficiency { .. } | Assertion::Secrets => {
                    probe.layers = true
                }
                Assertion::Size(_) => probe.history = true,
                _ => {}
            }
        }
        ask_services(check, index, steps, i);
        // A failed size check names the layers beyond the image it is
        // compared with: that image's history is read too.
        for a in &check.assertions {
            let Assertion::Size(bounds) = a else { continue };
            let others = [&bounds.max_over, &bounds.min_over]
                .into_iter()
                .flatten()
                .map(|(name, _)| name)
                .chain(bounds.smaller_than.iter())
                .chain(bounds.larger_than.iter());
            for name in others {
                if let Some(&j) = index.get(name.as_str()) {
                    steps[j].probe.history = true;
                }
            }
        }
    }
}

/// What `check` (on step `i`) asks of services: its requests and disk
/// measurements, made when step `i` has finished.
fn ask_services(
    check: &crate::spec::Check,
    index: &BTreeMap<&str, usize>,
    steps: &mut [PlannedStep],
    i: usize,
) {
    // A request waits for its service and for the pushes it names; a
    // disk comparison measures the step it compares with too.
    let mut needs = Vec::new();
    for a in &check.assertions {
        match a {
            Assertion::Http(want) => {
                let Some(request) = &want.request else {
                    continue;
                };
                if !steps[i].probe.http.contains(request) {
                    steps[i].probe.http.push(request.clone());
                }
                needs.extend(index.get(request.service.as_str()).copied());
                let json_texts = want.json.iter().flat_map(|j| {
                    [&j.equals, &j.contains]
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str())
                });
                let texts = std::iter::once(request.path.as_str())
                    .chain(request.headers.values().map(String::as_str))
                    .chain(json_texts)
                    .chain(
                        want.header
                            .values()
                            .flat_map(|m| [&m.equals, &m.contains].into_iter().flatten())
                            .map(String::as_str),
                    )
                    .chain(
                        want.body
                            .iter()
                            .flat_map(|m| [&m.equals, &m.contains].into_iter().flatten())
                            .map(String::as_str),
                    );
                for text in texts {
                    for (_, p) in Placeholder::scan(text).unwrap_or_default() {
                        needs.extend(index.get(p.step()).copied());
                    }
                }
            }
            Assertion::Disk(want) => {
                steps[i].probe.disk.insert(want.probe.clone());
                needs.extend(index.get(want.probe.service.as_str()).copied());
                for (name, _) in [&want.grew_since, &want.shrank_since].into_iter().flatten() {
                    if let Some(&j) = index.get(name.as_str()) {
                        steps[j].probe.disk.insert(want.probe.clone());
                        needs.push(j);
                        // Measured when `j` finishes: its service must be up.
                        if let Some(&k) = index.get(want.probe.service.as_str())
                            && k < j
                            && !steps[j].needs.contains(&k)
                        {
                            steps[j].needs.push(k);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    // Only earlier steps can be waited for (a check on a service step
    // itself is made once the service is ready).
    steps[i].needs.extend(needs.into_iter().filter(|&j| j < i));
}

impl Plan {
    /// Steps grouped so that each group depends only on earlier groups.
    pub fn waves(&self) -> Vec<Vec<usize>> {
        let mut level = vec![0usize; self.steps.len()];
        for (i, s) in self.steps.iter().enumerate() {
            // Needs always point backwards (the spec only lets a step use
            // earlier ones), so one forward pass settles every level.
            level[i] = s
                .needs
                .iter()
                .chain(&s.after)
                .map(|&n| level[n] + 1)
                .max()
                .unwrap_or(0);
        }
        let depth = level.iter().copied().max().map_or(0, |m| m + 1);
        let mut waves = vec![Vec::new(); depth];
        for (i, l) in level.into_iter().enumerate() {
            waves[l].push(i);
        }
        waves
    }
}

/// The tags of the builds `after` (of the same Dockerfile) that `step`
/// builds with the same arguments: the same steps, from the same cache.
fn same_dockerfile_as(
    exercise: &Exercise,
    run_id: &str,
    step: &Step,
    after: &[usize],
) -> Vec<String> {
    let StepKind::Build(build) = &step.kind else {
        return Vec::new();
    };
    after
        .iter()
        .filter(|&&j| matches!(&exercise.steps[j].kind, StepKind::Build(b) if b.args == build.args))
        .map(|&j| image_tag(run_id, &exercise.id, &exercise.steps[j].name))
        .collect()
}

/// Two builds read the same Dockerfile from the same files.
fn same_source(a: &BuildStep, b: &BuildStep) -> bool {
    a.from == b.from && a.dockerfile == b.dockerfile && a.context == b.context
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse_exercise;

    const SPEC: &str = r#"
id = "demo"
title = "Demo"

[[steps]]
name = "base"
image = "busybox:1.35"

[[steps]]
name = "final"
build = { dockerfile = "Dockerfile" }

[[steps]]
name = "run-a"
run = { image = "final", cmd = ["true"] }

[[steps]]
name = "run-b"
run = { image = "busybox:1.35", cmd = ["true"] }

[[checks]]
name = "files"
step = "final"
files = { present = ["/a", { path = "/b", uid = 0 }], absent = ["/c"] }

[[checks]]
name = "content"
step = "final"
file = { path = "/a", contains = "x" }

[[checks]]
name = "user"
step = "run-a"
user = { not_root = true }
"#;

    fn demo() -> Plan {
        let ex = parse_exercise("demo.toml", SPEC).expect("spec parses");
        plan(&ex, "r1")
    }

    #[test]
    fn builds_wait_for_base_images_and_runs_for_their_image() {
        let p = demo();
        assert_eq!(p.steps[1].needs, vec![0]);
        assert_eq!(p.steps[2].needs, vec![1]);
        assert!(p.steps[3].needs.is_empty());
        assert_eq!(p.waves(), vec![vec![0, 3], vec![1], vec![2]]);
    }

    #[test]
    fn every_file_a_check_needs_is_probed_once() {
        let p = demo();
        let files = &p.steps[1].probe.files;
        assert_eq!(files.keys().collect::<Vec<_>>(), vec!["/a", "/b", "/c"]);
        assert_eq!(
            files["/a"],
            FileNeed {
                content: true,
                owner: false
            }
        );
        assert_eq!(
            files["/b"],
            FileNeed {
                content: false,
                owner: true
            }
        );
        assert!(p.steps[2].probe.passwd);
        assert!(p.steps[0].probe.is_empty());
    }

    #[test]
    fn builds_are_tagged_in_dockgrades_namespace() {
        let p = demo();
        assert_eq!(p.steps[1].tag.as_deref(), Some("dockgrade:r1-demo-final"));
        assert_eq!(p.steps[0].tag, None);
    }

    #[test]
    fn builds_of_one_dockerfile_follow_each_other_without_blocking() {
        let spec = r#"
id = "multi"
title = "Multi"
[[steps]]
name = "final"
build = { dockerfile = "Dockerfile" }
[[steps]]
name = "downloader"
build = { dockerfile = "Dockerfile", target = "downloader" }
[[steps]]
name = "other"
build = { dockerfile = "Dockerfile.other" }
[[steps]]
name = "argued"
build = { dockerfile = "Dockerfile", args = { X = "1" } }
[[checks]]
name = "c"
step = "final"
build = "succeeds"
"#;
        let p = plan(&parse_exercise("multi.toml", spec).expect("parses"), "r");
        assert_eq!(p.steps[1].after, vec![0]);
        // The same steps from the same cache: the same arguments too.
        assert_eq!(p.steps[1].same_dockerfile_as, ["dockgrade:r-multi-final"]);
        assert_eq!(p.steps[3].after, vec![0, 1]);
        assert!(p.steps[3].same_dockerfile_as.is_empty());
        assert!(p.steps[0].same_dockerfile_as.is_empty());
        assert!(
            p.steps[1].needs.is_empty(),
            "a failed final build must not skip the target"
        );
        assert!(p.steps[2].after.is_empty());
        assert_eq!(p.waves(), vec![vec![0, 2], vec![1], vec![3]]);
    }

    #[test]
    fn requests_wait_for_their_service_the_pushes_they_name_and_the_steps_before() {
        let text = include_str!("../exercises/04-registry-gc.toml");
        let ex = crate::spec::parse_exercise("04-registry-gc.toml", text).unwrap();
        let plan = plan(&ex, "t");
        assert!(plan.network, "services need the exercise's network");
        let gc = plan.steps.iter().find(|p| p.step.name == "gc").unwrap();
        let names: Vec<&str> = gc
            .needs
            .iter()
            .map(|&i| plan.steps[i].step.name.as_str())
            .collect();
        assert_eq!(names, ["registry", "push-v1", "push-v2", "cleanup"]);
        assert_eq!(gc.probe.http.len(), 4);
        assert_eq!(gc.probe.disk.len(), 1);
        // The disk comparison measures after push-v2 too, and only there.
        for (name, measured) in [("push-v1", 0), ("push-v2", 1)] {
            let push = plan.steps.iter().find(|p| p.step.name == name).unwrap();
            assert_eq!(push.probe.disk.len(), measured, "{name}");
        }
        let waves = plan.waves();
        let wave_of = |name: &str| {
            let i = plan.steps.iter().position(|p| p.step.name == name).unwrap();
            waves.iter().position(|w| w.contains(&i)).unwrap()
        };
        assert!(wave_of("push-v1") < wave_of("push-v2"));
        assert!(wave_of("push-v2") < wave_of("cleanup"));
        assert!(wave_of("cleanup") < wave_of("gc"));
    }
}
