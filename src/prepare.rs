//! Which images a selection of exercises needs on the daemon before it can
//! be taken: what `dockgrade prepare` fetches and `doctor` looks for.
//!
//! [`needed_images`] is the one answer, and it does no I/O: it reads the
//! exercises' specs and the text of the course's Dockerfiles that
//! [`read_dockerfiles`] found on disk (the only I/O here, of the course's
//! own files). An exercise that builds and runs (`mode = "check"`) needs its
//! `image` steps, the images its `run` and `service` steps name (not those
//! another step builds), the images its `build`
//! steps allow the Dockerfile to pull (`allow_images`), and what its own
//! Dockerfiles build on: every `FROM` and `COPY --from` image of the
//! reference Dockerfiles in its files folder and of the starters in the
//! course's `Dockerfiles/` for the files it asks for, read as the legacy
//! builder reads them (stage names and `scratch` are not images). A live
//! exercise's `image` steps are the student's own images, looked at by tag
//! and never pulled; it needs the images the student's containers must have
//! been started from (`hello-world`), unless it also looks at that image by
//! tag (then the student builds it). A reference without a tag or digest
//! means `:latest`, as `docker pull` reads it; the list is deduplicated and
//! sorted. An exercise with a service that has a `port` also needs the
//! image of the helper container the grader asks services through
//! ([`TUNNEL_IMAGE`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::dockerfile::{Dockerfile, RemoteKind, remote_sources};
use crate::engine::TUNNEL_IMAGE;
use crate::spec::{Assertion, BuildSource, Exercise, ImageSource, Mode, StepKind};

/// The largest course Dockerfile read; the course's are a few hundred bytes.
const MAX_DOCKERFILE: u64 = 1 << 20;

/// A Dockerfile of the course that an exercise builds or hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CourseDockerfile {
    /// Where it was read (for messages).
    pub path: PathBuf,
    pub text: Vec<u8>,
    /// The build arguments the exercise builds it with.
    pub args: BTreeMap<String, String>,
}

/// Every image `exercises` need, given the course Dockerfiles
/// [`read_dockerfiles`] found for them: deduplicated, sorted, each with a
/// tag or digest.
pub(crate) fn needed_images(
    exercises: &[Exercise],
    dockerfiles: &[CourseDockerfile],
) -> Vec<String> {
    let mut images = BTreeSet::new();
    for ex in exercises {
        match ex.mode {
            Mode::Check => spec_images(ex, &mut images),
            Mode::Live => live_images(ex, &mut images),
        }
    }
    for dockerfile in dockerfiles {
        images.extend(dockerfile_images(dockerfile));
    }
    images
        .into_iter()
        .filter(|i| !i.is_empty())
        .map(|i| with_tag(&i))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// What the steps of an exercise that builds and runs name.
fn spec_images(ex: &Exercise, images: &mut BTreeSet<String>) {
    for step in &ex.steps {
        match &step.kind {
            StepKind::Image { reference, .. } => {
                images.insert(reference.clone());
            }
            StepKind::Run(run) => {
                if let ImageSource::Reference(reference) = &run.image {
                    images.insert(reference.clone());
                }
            }
            StepKind::Service(service) => {
                if let ImageSource::Reference(reference) = &service.image {
                    images.insert(reference.clone());
                }
                // Requests to its port go through a helper container.
                if service.port.is_some() {
                    images.insert(TUNNEL_IMAGE.to_string());
                }
            }
            StepKind::Build(build) => images.extend(build.allow_images.iter().cloned()),
            StepKind::Container { .. } | StepKind::Push(_) | StepKind::Exec(_) => {}
        }
    }
}

/// The images a live exercise's containers must have been started from,
/// except those it looks at by tag (the student's own builds).
fn live_images(ex: &Exercise, images: &mut BTreeSet<String>) {
    let own: BTreeSet<String> = ex
        .steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::Image { reference, .. } => Some(with_tag(reference)),
            _ => None,
        })
        .collect();
    for check in &ex.checks {
        for assertion in &check.assertions {
            if let Assertion::Container(expected) = assertion
                && let Some(image) = &expected.image
                && !own.contains(&with_tag(image))
            {
                images.insert(image.clone());
            }
        }
    }
}

/// The images a Dockerfile would make the daemon pull; none when it cannot
/// be read (the build would fail before pulling anything).
fn dockerfile_images(dockerfile: &CourseDockerfile) -> Vec<String> {
    let Ok(parsed) = Dockerfile::parse_bytes(&dockerfile.text) else {
        return Vec::new();
    };
    let Ok(sources) = remote_sources(&parsed, &dockerfile.args) else {
        return Vec::new();
    };
    sources
        .into_iter()
        .filter_map(|s| match s.kind {
            RemoteKind::Image(image) => Some(image),
            RemoteKind::Url(_) => None,
        })
        .collect()
}

/// `reference` with `:latest` when it names neither a tag nor a digest.
fn with_tag(reference: &str) -> String {
    let name = reference.rsplit('/').next().unwrap_or(reference);
    if reference.contains('@') || name.contains(':') {
        reference.to_string()
    } else {
        format!("{reference}:latest")
    }
}

/// Whether a file's name says it is a Dockerfile (`Dockerfile`,
/// `Dockerfile.02b`, `app.dockerfile`).
fn is_dockerfile_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "dockerfile" || lower.starts_with("dockerfile.") || lower.ends_with(".dockerfile")
}

/// Reads the course Dockerfiles of the exercises that build: those their
/// `build` steps use (from the exercise's files, or the course's starter of
/// the student's file), the starters (in `starters`, the course's
/// `Dockerfiles/`) of the Dockerfiles they ask for, and the Dockerfiles at
/// the top of their files folder. A file that is missing, unreadable or
/// larger than 1 MiB is skipped: it names no image anyone could build on.
pub(crate) fn read_dockerfiles(exercises: &[Exercise], starters: &Path) -> Vec<CourseDockerfile> {
    let mut wanted: BTreeMap<PathBuf, BTreeMap<String, String>> = BTreeMap::new();
    for ex in exercises.iter().filter(|e| e.mode == Mode::Check) {
        for step in &ex.steps {
            if let StepKind::Build(build) = &step.kind {
                let root = match build.from {
                    BuildSource::Exercise => ex.files.clone(),
                    BuildSource::Submission => Some(starters.to_path_buf()),
                };
                if let Some(root) = root {
                    wanted
                        .entry(root.join(build.dockerfile.as_str()))
                        .or_default()
                        .extend(build.args.clone());
                }
            }
        }
        for required in ex.required.iter().filter(|r| {
            Path::new(r.as_str())
                .file_name()
                .is_some_and(|n| is_dockerfile_name(&n.to_string_lossy()))
        }) {
            wanted.entry(starters.join(required.as_str())).or_default();
        }
        let top = ex.files.iter().flat_map(|d| std::fs::read_dir(d).ok());
        for entry in top.flatten().flatten() {
            if is_dockerfile_name(&entry.file_name().to_string_lossy()) {
                wanted.entry(entry.path()).or_default();
            }
        }
    }
    wanted
        .into_iter()
        .filter_map(|(path, args)| {
            let text = read_small(&path)?;
            Some(CourseDockerfile { path, text, args })
        })
        .collect()
}

/// A regular file's bytes, when it has at most [`MAX_DOCKERFILE`] of them.
fn read_small(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() > MAX_DOCKERFILE {
        return None;
    }
    let mut text = Vec::new();
    file.take(MAX_DOCKERFILE).read_to_end(&mut text).ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse_exercise;

    fn exercise(toml: &str) -> Exercise {
        parse_exercise("e.toml", &format!("id = \"e\"\ntitle = \"E\"\n{toml}")).expect("parses")
    }

    fn dockerfile(text: &str) -> CourseDockerfile {
        CourseDockerfile {
            path: PathBuf::from("Dockerfile"),
            text: text.as_bytes().to_vec(),
            args: BTreeMap::new(),
        }
    }

    const CHECK: &str = "[[checks]]\nname = \"c\"\nstep = \"i\"\nlayers = { max = 9 }\n";

    #[test]
    fn image_and_run_steps_and_allowed_images_are_needed_sorted_and_once() {
        let ex = exercise(&format!(
            "[[steps]]\nname = \"i\"\nimage = \"debian:bookworm-slim\"\n\
             [[steps]]\nname = \"b\"\nbuild = {{ dockerfile = \"Dockerfile\", allow_images = [\"python:3.12-slim\"] }}\n\
             [[steps]]\nname = \"r\"\nrun = {{ image = \"busybox:1.35\", cmd = [\"true\"] }}\n\
             [[steps]]\nname = \"s\"\nrun = {{ image = \"b\" }}\n\
             [[steps]]\nname = \"again\"\nimage = \"busybox:1.35\"\n{CHECK}"
        ));
        assert_eq!(
            needed_images(&[ex], &[]),
            ["busybox:1.35", "debian:bookworm-slim", "python:3.12-slim"]
        );
    }

    #[test]
    fn a_service_needs_its_image_unless_a_step_builds_it() {
        let ex = exercise(
            "[[steps]]\nname = \"registry\"\nservice = { image = \"registry:2\", port = 5000 }\n\
             [[steps]]\nname = \"tools\"\nbuild = { from = \"exercise\", dockerfile = \"Dockerfile.tools\" }\n\
             [[steps]]\nname = \"helper\"\nservice = { image = \"tools\" }\n\
             [[checks]]\nname = \"c\"\nstep = \"tools\"\nbuild = \"succeeds\"\n",
        );
        // The registry has a port: its requests need the tunnel's image.
        assert_eq!(needed_images(&[ex], &[]), [TUNNEL_IMAGE, "registry:2"]);
        // One without a port is never asked: no helper.
        let ex = exercise(&format!(
            "[[steps]]\nname = \"i\"\nimage = \"debian:bookworm-slim\"\n\
             [[steps]]\nname = \"box\"\nservice = {{ image = \"i\", cmd = [\"sleep\", \"60\"] }}\n{CHECK}"
        ));
        assert_eq!(needed_images(&[ex], &[]), ["debian:bookworm-slim"]);
    }

    #[test]
    fn dockerfiles_add_their_from_images_but_not_stages_or_scratch() {
        let ex = exercise(&format!(
            "[[steps]]\nname = \"i\"\nimage = \"debian:bookworm-slim\"\n{CHECK}"
        ));
        let multi = dockerfile(
            "ARG BASE=alpine:3.20\nFROM $BASE AS fetch\nRUN true\n\
             FROM fetch AS again\nFROM scratch\nCOPY --from=fetch /a /a\n\
             COPY --from=registry.example/tools:1 /t /t\nFROM debian:bookworm-slim\n",
        );
        let with_arg = CourseDockerfile {
            args: BTreeMap::from([("V".to_string(), "1.36".to_string())]),
            ..dockerfile("ARG V\nFROM busybox:${V}\n")
        };
        assert_eq!(
            needed_images(
                &[ex],
                &[multi, with_arg, dockerfile("# TODO: a FROM line\n")]
            ),
            [
                "alpine:3.20",
                "busybox:1.36",
                "debian:bookworm-slim",
                "registry.example/tools:1"
            ]
        );
    }

    #[test]
    fn an_untagged_reference_means_latest_and_is_counted_once() {
        let ex = exercise(&format!(
            "[[steps]]\nname = \"i\"\nimage = \"hello-world\"\n\
             [[steps]]\nname = \"j\"\nimage = \"localhost:5000/x\"\n\
             [[steps]]\nname = \"k\"\nimage = \"busybox@sha256:{}\"\n{CHECK}",
            "a".repeat(64)
        ));
        let from = dockerfile("FROM hello-world:latest\n");
        assert_eq!(
            needed_images(&[ex], &[from]),
            [
                format!("busybox@sha256:{}", "a".repeat(64)),
                "hello-world:latest".to_string(),
                "localhost:5000/x:latest".to_string(),
            ]
        );
    }

    #[test]
    fn a_live_exercise_needs_what_containers_ran_but_not_the_students_own_tags() {
        let ex = exercise(
            "mode = \"live\"\n\
             [[steps]]\nname = \"mine\"\nimage = \"docker_intro:v0.1multi\"\npull = \"never\"\n\
             [[steps]]\nname = \"c\"\ncontainer = \"demo\"\n\
             [[steps]]\nname = \"h\"\ncontainer = \"hello\"\n\
             [[checks]]\nname = \"ran mine\"\nstep = \"c\"\ncontainer = { image = \"docker_intro:v0.1multi\" }\n\
             [[checks]]\nname = \"ran hello\"\nstep = \"h\"\ncontainer = { image = \"hello-world\" }\n\
             [[checks]]\nname = \"tagged\"\nstep = \"mine\"\nlayers = { max = 9 }\n",
        );
        assert_eq!(needed_images(&[ex], &[]), ["hello-world:latest"]);
    }

    #[test]
    fn an_unreadable_dockerfile_names_nothing() {
        assert!(needed_images(&[], &[dockerfile("FROM \"unterminated\n\u{0}\u{0}")]).is_empty());
        let not_utf8 = CourseDockerfile {
            text: vec![0xff, 0xfe, b'F'],
            ..dockerfile("")
        };
        assert!(needed_images(&[], &[not_utf8]).is_empty());
    }

    #[test]
    fn the_course_needs_its_base_images_and_no_student_image() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let exercises =
            crate::catalog::load_dir(&root.join("exercises")).expect("the course loads");
        let dockerfiles = read_dockerfiles(&exercises, &root.join("Dockerfiles"));
        let read: Vec<String> = dockerfiles
            .iter()
            .map(|d| {
                d.path
                    .strip_prefix(root)
                    .unwrap_or(&d.path)
                    .display()
                    .to_string()
            })
            .collect();
        // A reference Dockerfile of an exercise, and a starter with a FROM.
        assert!(
            read.contains(&"exercises/03-same-layer/Dockerfile.02b".to_string()),
            "{read:?}"
        );
        assert!(
            read.contains(&"Dockerfiles/Dockerfile.03secret".to_string()),
            "{read:?}"
        );
        let needed = needed_images(&exercises, &dockerfiles);
        for base in ["busybox:1.35", "debian:bookworm-slim", "hello-world:latest"] {
            assert!(needed.contains(&base.to_string()), "{base} in {needed:?}");
        }
        // 04-bind-mount looks at the student's own docker_intro:v0.1multi.
        assert!(
            !needed.iter().any(|i| i.starts_with("docker_intro")),
            "{needed:?}"
        );
    }

    #[test]
    fn dockerfile_names_are_told_from_other_files() {
        for name in [
            "Dockerfile",
            "Dockerfile.02b",
            "app.dockerfile",
            "dockerfile",
        ] {
            assert!(is_dockerfile_name(name), "{name}");
        }
        for name in [
            ".dockerignore",
            "docker_tutorial.bundle",
            "fetch.sh",
            "Dockerfiles",
        ] {
            assert!(!is_dockerfile_name(name), "{name}");
        }
    }
}
