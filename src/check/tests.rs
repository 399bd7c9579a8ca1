//! Every assertion kind, passing and failing, against hand-made observations.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::observation::*;
use crate::spec::*;

fn image(size: u64) -> ImageFacts {
    ImageFacts {
        id: "sha256:abc".into(),
        size,
        layers: vec!["sha256:a".into(), "sha256:b".into()],
        ..Default::default()
    }
}

fn done(name: &str) -> StepObservation {
    StepObservation::new(name, StepStatus::Done)
}

fn with_image(name: &str, img: ImageFacts) -> StepObservation {
    let mut s = done(name);
    s.image = Some(img);
    s
}

fn with_run(name: &str, run: RunFacts) -> StepObservation {
    let mut s = done(name);
    s.run = Some(run);
    s
}

fn obs(steps: Vec<StepObservation>) -> Observations {
    Observations {
        daemon: None,
        steps: steps.into_iter().map(|s| (s.step.clone(), s)).collect(),
    }
}

fn check(step: &str, assertions: Vec<Assertion>) -> Check {
    Check {
        name: "c".into(),
        step: step.into(),
        points: 3,
        hint: Some("try harder".into()),
        assertions,
        visibility: Default::default(),
    }
}

fn run(code: i64, stdout: &str) -> RunFacts {
    RunFacts {
        exit_code: Some(code),
        stdout: stdout.into(),
        ..Default::default()
    }
}

#[test]
fn a_passing_check_earns_its_points() {
    let o = obs(vec![with_run("r", run(0, "hi"))]);
    let out = evaluate(
        &check("r", vec![Assertion::ExitCode(ExitExpectation::Is(0))]),
        &o,
    );
    assert_eq!(out.status, Status::Passed);
    assert_eq!((out.points, out.max_points), (3, 3));
    assert_eq!(out.expected, None);
}

#[test]
fn exit_code_forms() {
    let o = obs(vec![with_run("r", run(1, ""))]);
    let is0 = evaluate(
        &check("r", vec![Assertion::ExitCode(ExitExpectation::Is(0))]),
        &o,
    );
    assert_eq!(is0.status, Status::Failed);
    assert_eq!(is0.points, 0);
    assert_eq!(
        is0.message,
        "exit code: expected exit code 0, got exit code 1"
    );
    assert_eq!(is0.hint.as_deref(), Some("try harder"));
    let not0 = evaluate(
        &check("r", vec![Assertion::ExitCode(ExitExpectation::Not(0))]),
        &o,
    );
    assert_eq!(not0.status, Status::Passed);
    let within = evaluate(
        &check(
            "r",
            vec![Assertion::ExitCode(ExitExpectation::In(vec![2, 3]))],
        ),
        &o,
    );
    assert_eq!(within.expected.as_deref(), Some("an exit code in [2, 3]"));
}

#[test]
fn out_of_memory_is_named() {
    let mut r = run(137, "");
    r.oom_killed = true;
    let out = evaluate(
        &check("r", vec![Assertion::ExitCode(ExitExpectation::Is(0))]),
        &obs(vec![with_run("r", r)]),
    );
    assert!(
        out.message.contains("killed: out of memory"),
        "{}",
        out.message
    );
}

#[test]
fn stdout_and_stderr_matchers() {
    let mut r = run(0, "Hello, Docker!\n\n");
    r.stderr = "warning: x".into();
    let o = obs(vec![with_run("r", r)]);
    let eq = TextMatcher {
        equals: Some("Hello, Docker!".into()),
        ..Default::default()
    };
    assert_eq!(
        evaluate(&check("r", vec![Assertion::Stdout(eq)]), &o).status,
        Status::Passed
    );
    let re = TextMatcher {
        matches: Some(regex::Regex::new("^Hello, \\w+!").expect("re")),
        ..Default::default()
    };
    assert_eq!(
        evaluate(&check("r", vec![Assertion::Stdout(re)]), &o).status,
        Status::Passed
    );
    let nc = TextMatcher {
        not_contains: Some("warning".into()),
        ..Default::default()
    };
    let out = evaluate(&check("r", vec![Assertion::Stderr(nc)]), &o);
    assert_eq!(out.status, Status::Failed);
    assert_eq!(
        out.message,
        "stderr: expected not to contain \"warning\", got \"warning: x\""
    );
    let nm = TextMatcher {
        not_matches: Some(regex::Regex::new("^root\\s*$").expect("re")),
        ..Default::default()
    };
    assert_eq!(
        evaluate(&check("r", vec![Assertion::Stdout(nm.clone())]), &o).status,
        Status::Passed,
        "Hello, world! is not root"
    );
    let out = evaluate(&check("r", vec![Assertion::Stderr(nm)]), &o);
    assert_eq!(out.status, Status::Passed, "{}", out.message);
    let nm = TextMatcher {
        not_matches: Some(regex::Regex::new("^warning").expect("re")),
        ..Default::default()
    };
    let out = evaluate(&check("r", vec![Assertion::Stderr(nm)]), &o);
    assert_eq!(out.status, Status::Failed);
    assert_eq!(
        out.message,
        "stderr: expected not to match /^warning/, got \"warning: x\""
    );
    let c = TextMatcher {
        contains: Some("Bye".into()),
        ..Default::default()
    };
    let out = evaluate(&check("r", vec![Assertion::Stdout(c)]), &o);
    assert_eq!(out.actual.as_deref(), Some("\"Hello, Docker!\""));
}

#[test]
fn dropped_output_is_mentioned() {
    let mut r = run(0, "x");
    r.stdout_dropped = 5_000_000;
    let c = TextMatcher {
        contains: Some("y".into()),
        ..Default::default()
    };
    let out = evaluate(
        &check("r", vec![Assertion::Stdout(c)]),
        &obs(vec![with_run("r", r)]),
    );
    assert!(
        out.message.contains("5.00 MB more not kept"),
        "{}",
        out.message
    );
}

#[test]
fn size_absolute_and_relative_bounds() {
    let o = obs(vec![
        with_image("base", image(100_000_000)),
        with_image("final", image(105_000_000)),
    ]);
    let ok = SizeBounds {
        max_over: Some(("base".into(), 10_000_000)),
        ..Default::default()
    };
    assert_eq!(
        evaluate(&check("final", vec![Assertion::Size(ok)]), &o).status,
        Status::Passed
    );
    let tight = SizeBounds {
        max_over: Some(("base".into(), 1_000_000)),
        ..Default::default()
    };
    let out = evaluate(&check("final", vec![Assertion::Size(tight)]), &o);
    assert_eq!(out.status, Status::Failed);
    assert_eq!(
        out.message,
        "image size: expected at most 1.00 MB over `base` (100 MB), got 105 MB (105000000 bytes), +5.00 MB over `base`"
    );
    let grew = SizeBounds {
        min_over: Some(("base".into(), 5_000_000)),
        ..Default::default()
    };
    assert_eq!(
        evaluate(&check("final", vec![Assertion::Size(grew)]), &o).status,
        Status::Passed
    );
    let grew_more = SizeBounds {
        min_over: Some(("base".into(), 6_000_000)),
        ..Default::default()
    };
    let out = evaluate(&check("final", vec![Assertion::Size(grew_more)]), &o);
    assert_eq!(
        out.expected.as_deref(),
        Some("at least 6.00 MB over `base` (100 MB)")
    );
    let smaller = SizeBounds {
        smaller_than: Some("base".into()),
        ..Default::default()
    };
    assert_eq!(
        evaluate(&check("final", vec![Assertion::Size(smaller)]), &o).status,
        Status::Failed
    );
    let larger = SizeBounds {
        larger_than: Some("base".into()),
        min: Some(1),
        max: Some(200_000_000),
        ..Default::default()
    };
    assert_eq!(
        evaluate(&check("final", vec![Assertion::Size(larger)]), &o).status,
        Status::Passed
    );
    let max = SizeBounds {
        max: Some(1_000),
        ..Default::default()
    };
    let out = evaluate(&check("final", vec![Assertion::Size(max)]), &o);
    assert_eq!(out.expected.as_deref(), Some("at most 1.00 kB"));
}

#[test]
fn size_against_a_step_without_an_image_says_why() {
    let mut failed = StepObservation::new(
        "ref",
        StepStatus::Failed("build failed: no such file".into()),
    );
    failed.build = Some(BuildFacts::default());
    let o = obs(vec![with_image("final", image(10)), failed]);
    let b = SizeBounds {
        smaller_than: Some("ref".into()),
        ..Default::default()
    };
    let out = evaluate(&check("final", vec![Assertion::Size(b)]), &o);
    assert_eq!(out.status, Status::Failed);
    assert_eq!(
        out.message,
        "cannot compare with step `ref`: build failed: no such file"
    );
}

#[test]
fn layers_bounds() {
    let o = obs(vec![with_image("i", image(1))]);
    let out = evaluate(
        &check(
            "i",
            vec![Assertion::Layers(LayerExpectation {
                min: Some(3),
                max: None,
                more_than: None,
                ..Default::default()
            })],
        ),
        &o,
    );
    assert_eq!(
        out.message,
        "layers: expected at least 3 layers, got 2 layers"
    );
    let out = evaluate(
        &check(
            "i",
            vec![Assertion::Layers(LayerExpectation {
                min: Some(2),
                max: Some(2),
                more_than: None,
                ..Default::default()
            })],
        ),
        &o,
    );
    assert_eq!(out.status, Status::Passed);
}

fn found(file_type: FileType, mode: u32, uid: u64, content: Option<&str>) -> FileProbe {
    FileProbe::Found(FileFacts {
        file_type: Some(file_type),
        mode,
        size: 1,
        link_target: None,
        uid: Some(uid),
        gid: Some(uid),
        content: content.map(|c| c.as_bytes().to_vec()),
    })
}

fn image_with_files() -> ImageFacts {
    let mut img = image(1);
    img.files = BTreeMap::from([
        (
            "/software".to_string(),
            found(FileType::Dir, 0o755, 0, None),
        ),
        (
            "/software/hello.sh".to_string(),
            found(FileType::File, 0o755, 1000, Some("echo hello\n")),
        ),
        ("/usr/bin/git".to_string(), FileProbe::Missing),
        ("/tmp".to_string(), found(FileType::Dir, 0o1777, 0, None)),
    ]);
    img
}

#[test]
fn files_present_absent_type_mode_owner() {
    let o = obs(vec![with_image("i", image_with_files())]);
    let fe = |path: &str| FileExpectation {
        path: path.into(),
        file_type: None,
        mode: None,
        uid: None,
        gid: None,
    };
    let good = Assertion::Files {
        present: vec![
            fe("/software"),
            FileExpectation {
                file_type: Some(FileType::File),
                mode: Some(0o755),
                uid: Some(1000),
                ..fe("/software/hello.sh")
            },
            FileExpectation {
                mode: Some(0o1777),
                ..fe("/tmp")
            },
        ],
        absent: vec!["/usr/bin/git".into()],
    };
    assert_eq!(evaluate(&check("i", vec![good]), &o).status, Status::Passed);
    let bad = Assertion::Files {
        present: vec![
            fe("/usr/bin/git"),
            FileExpectation {
                file_type: Some(FileType::File),
                mode: Some(0o700),
                uid: Some(0),
                ..fe("/software")
            },
        ],
        absent: vec!["/software/hello.sh".into()],
    };
    let out = evaluate(&check("i", vec![bad]), &o);
    assert_eq!(out.status, Status::Failed);
    assert_eq!(
        out.actual.as_deref(),
        Some(
            "/usr/bin/git is missing, /software is a dir, not a file, /software has mode 0755, not 0700, \
             /software/hello.sh is present (file)"
        )
    );
}

#[test]
fn a_probe_error_is_an_error_not_a_failure() {
    let mut img = image(1);
    img.files
        .insert("/x".into(), FileProbe::Error("daemon went away".into()));
    let out = evaluate(
        &check(
            "i",
            vec![Assertion::Files {
                present: vec![],
                absent: vec!["/x".into()],
            }],
        ),
        &obs(vec![with_image("i", img)]),
    );
    assert_eq!(out.status, Status::Error);
}

#[test]
fn file_content() {
    let o = obs(vec![with_image("i", image_with_files())]);
    let m = TextMatcher {
        contains: Some("hello".into()),
        ..Default::default()
    };
    let a = Assertion::File {
        path: "/software/hello.sh".into(),
        matcher: m.clone(),
    };
    assert_eq!(evaluate(&check("i", vec![a]), &o).status, Status::Passed);
    let missing = Assertion::File {
        path: "/usr/bin/git".into(),
        matcher: m.clone(),
    };
    assert_eq!(
        evaluate(&check("i", vec![missing]), &o).message,
        "/usr/bin/git: expected the file to exist, got no such file"
    );
    let dir = Assertion::File {
        path: "/software".into(),
        matcher: m,
    };
    assert_eq!(evaluate(&check("i", vec![dir]), &o).status, Status::Failed);
}

#[test]
fn config_compares_only_listed_fields() {
    let mut img = image(1);
    img.config = ImageConfig {
        user: "app".into(),
        workdir: "/software".into(),
        cmd: Some(vec!["./hello.sh".into()]),
        entrypoint: None,
        env: vec!["PATH=/bin".into(), "MODE=prod".into()],
        labels: BTreeMap::from([("course".into(), "docker".into())]),
        exposed_ports: vec!["8080/tcp".into()],
    };
    let o = obs(vec![with_image("i", img)]);
    let good = ConfigExpectation {
        workdir: Some("/software".into()),
        env: BTreeMap::from([("MODE".into(), "prod".into())]),
        labels: BTreeMap::from([("course".into(), "docker".into())]),
        exposed_ports: vec!["8080".into()],
        ..Default::default()
    };
    assert_eq!(
        evaluate(&check("i", vec![Assertion::Config(good)]), &o).status,
        Status::Passed
    );
    let bad = ConfigExpectation {
        workdir: Some("/app".into()),
        entrypoint: Some(vec!["sh".into()]),
        env: BTreeMap::from([("DEBUG".into(), "1".into())]),
        ..Default::default()
    };
    let out = evaluate(&check("i", vec![Assertion::Config(bad)]), &o);
    assert_eq!(
        out.expected.as_deref(),
        Some("WORKDIR \"/app\", ENTRYPOINT [\"sh\"], ENV DEBUG \"1\"")
    );
    assert_eq!(
        out.actual.as_deref(),
        Some("WORKDIR \"/software\", ENTRYPOINT unset, ENV DEBUG unset")
    );
}

#[test]
fn user_on_an_image_and_on_a_run() {
    let mut img = image(1);
    img.config.user = "app".into();
    img.passwd = Some("root:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n".into());
    let mut r = run(0, "");
    r.user = "".into();
    let o = obs(vec![with_image("i", img), with_run("r", r)]);
    let nr = Assertion::User(UserExpectation::NotRoot);
    assert_eq!(
        evaluate(&check("i", vec![nr.clone()]), &o).status,
        Status::Passed
    );
    assert_eq!(
        evaluate(
            &check("i", vec![Assertion::User(UserExpectation::Uid(1000))]),
            &o
        )
        .status,
        Status::Passed
    );
    let out = evaluate(&check("r", vec![nr]), &o);
    assert_eq!(
        out.message,
        "user: expected a non-root user (uid ≠ 0), got the process ran as root (no USER set), uid 0"
    );
}

#[test]
fn build_expectations_and_context() {
    let mut ok = with_image("b", image(1));
    ok.build = Some(BuildFacts {
        succeeded: true,
        context_bytes: Some(2_000_000),
        ..Default::default()
    });
    let mut bad =
        StepObservation::new("f", StepStatus::Failed("build failed: RUN exited 1".into()));
    bad.build = Some(BuildFacts {
        succeeded: false,
        error: Some("RUN exited 1".into()),
        ..Default::default()
    });
    let o = obs(vec![ok, bad]);
    assert_eq!(
        evaluate(
            &check("b", vec![Assertion::Build(BuildExpectation::Succeeds)]),
            &o
        )
        .status,
        Status::Passed
    );
    let out = evaluate(
        &check("f", vec![Assertion::Build(BuildExpectation::Succeeds)]),
        &o,
    );
    assert_eq!(
        out.message,
        "build: expected the build to succeed, got the build failed: RUN exited 1"
    );
    assert_eq!(
        evaluate(
            &check("f", vec![Assertion::Build(BuildExpectation::Fails)]),
            &o
        )
        .status,
        Status::Passed
    );
    let out = evaluate(&check("b", vec![Assertion::Context { max: 1_000_000 }]), &o);
    assert_eq!(
        out.message,
        "build context: expected at most 1.00 MB, got 2.00 MB sent"
    );
    // Other assertions on a failed build fail with the build's reason.
    let out = evaluate(
        &check(
            "f",
            vec![Assertion::Layers(LayerExpectation {
                min: Some(1),
                max: None,
                more_than: None,
                ..Default::default()
            })],
        ),
        &o,
    );
    assert_eq!(
        (out.status, out.message.as_str()),
        (Status::Failed, "build failed: RUN exited 1")
    );
}

#[test]
fn skipped_timed_out_and_errored_steps() {
    let skipped = StepObservation::new(
        "r",
        StepStatus::Skipped("not run: step `final` failed".into()),
    );
    let timed = StepObservation::new(
        "t",
        StepStatus::Failed(timed_out_message(Duration::from_secs(20))),
    );
    let broken = StepObservation::new("e", StepStatus::Error("daemon: connection refused".into()));
    let o = obs(vec![skipped, timed, broken]);
    let a = || vec![Assertion::ExitCode(ExitExpectation::Is(0))];
    assert_eq!(evaluate(&check("r", a()), &o).status, Status::Skipped);
    let t = evaluate(&check("t", a()), &o);
    assert_eq!(
        (t.status, t.message.as_str()),
        (Status::Failed, "timed out after 20s")
    );
    assert_eq!(evaluate(&check("e", a()), &o).status, Status::Error);
    assert_eq!(evaluate(&check("nope", a()), &o).status, Status::Skipped);
}

#[test]
fn several_assertions_report_every_failure() {
    let o = obs(vec![with_run("r", run(2, "oops"))]);
    let out = evaluate(
        &check(
            "r",
            vec![
                Assertion::ExitCode(ExitExpectation::Is(0)),
                Assertion::Stdout(TextMatcher {
                    contains: Some("ok".into()),
                    ..Default::default()
                }),
            ],
        ),
        &o,
    );
    assert_eq!(
        out.message,
        "exit code: expected exit code 0, got exit code 2; stdout: expected to contain \"ok\", got \"oops\""
    );
}

#[test]
fn layers_relative_to_another_step() {
    let mut more = image(1);
    more.layers.push("sha256:c".into());
    let o = obs(vec![with_image("i", image(1)), with_image("more", more)]);
    let rel = |step: &str, other: &str| {
        evaluate(
            &check(
                step,
                vec![Assertion::Layers(LayerExpectation {
                    min: None,
                    max: None,
                    more_than: Some(other.into()),
                    ..Default::default()
                })],
            ),
            &o,
        )
    };
    let out = rel("more", "i");
    assert_eq!(
        (out.status, out.message.as_str()),
        (Status::Passed, "layers: 3 layers (+1 vs `i`)")
    );
    let out = rel("i", "more");
    assert_eq!(
        out.message,
        "layers: expected more layers than `more` (3), got 2 layers (-1 vs `more`)"
    );
}

#[test]
fn layers_tell_which_image_an_image_is_built_on() {
    let base = image(100);
    let mut on_base = image(150);
    on_base.layers.push("sha256:c".into());
    let mut elsewhere = image(90);
    elsewhere.layers = vec!["sha256:z".into(), "sha256:c".into()];
    let o = obs(vec![
        with_image("base", base),
        with_image("on", on_base),
        with_image("elsewhere", elsewhere),
    ]);
    let based_on = |step: &str| {
        evaluate(
            &check(
                step,
                vec![Assertion::Layers(LayerExpectation {
                    based_on: Some("base".into()),
                    ..Default::default()
                })],
            ),
            &o,
        )
    };
    assert_eq!(based_on("on").status, Status::Passed);
    assert_eq!(
        based_on("base").status,
        Status::Passed,
        "an image is built on itself"
    );
    let other = based_on("elsewhere");
    assert_eq!(other.status, Status::Failed);
    assert_eq!(
        other.message,
        "layers: expected built on `base` (its 2 layers first), got 2 layers, not built on `base` (its first layers differ)"
    );
    let not_on = evaluate(
        &check(
            "on",
            vec![Assertion::Layers(LayerExpectation {
                not_based_on: Some("base".into()),
                ..Default::default()
            })],
        ),
        &o,
    );
    assert_eq!(not_on.status, Status::Failed);
}

#[test]
fn layers_of_builds_on_different_stages_are_not_compared() {
    let mut downloader = image(100);
    downloader.stages_differ = Some("`RUN fetch` gave b where the first build had a".into());
    let mut last = image(150);
    last.layers.push("sha256:c".into());
    let o = obs(vec![
        with_image("downloader", downloader),
        with_image("final", last),
        with_image("base", image(100)),
    ]);
    let not_on = |other: &str| {
        evaluate(
            &check(
                "final",
                vec![Assertion::Layers(LayerExpectation {
                    not_based_on: Some(other.into()),
                    ..Default::default()
                })],
            ),
            &o,
        )
    };
    // Either answer could be false: the grade is not given.
    let out = not_on("downloader");
    assert_eq!(out.status, Status::Error);
    assert!(
        out.message.contains("`RUN fetch` gave b"),
        "{}",
        out.message
    );
    // An image the run did not build twice is compared as ever.
    assert_eq!(not_on("base").status, Status::Failed);
}

#[test]
fn config_compares_folders_and_commands_by_meaning() {
    let mut img = image(1);
    img.config.workdir = "/software/".into();
    img.config.cmd = Some(vec![
        "/bin/sh".into(),
        "-c".into(),
        "./docker_tutorial/hello.sh --loud".into(),
    ]);
    let o = obs(vec![with_image("i", img)]);
    let same = ConfigExpectation {
        workdir: Some("/software".into()),
        cmd: Some(vec!["./docker_tutorial/hello.sh".into(), "--loud".into()]),
        ..Default::default()
    };
    let out = evaluate(&check("i", vec![Assertion::Config(same)]), &o);
    assert_eq!(out.status, Status::Passed, "{}", out.message);

    // Shell syntax is compared as written: `$HOME` is not a plain word.
    let mut img = image(1);
    img.config.cmd = Some(vec!["/bin/sh".into(), "-c".into(), "echo $HOME".into()]);
    let o = obs(vec![with_image("i", img)]);
    let exec = ConfigExpectation {
        cmd: Some(vec!["echo".into(), "$HOME".into()]),
        ..Default::default()
    };
    let out = evaluate(&check("i", vec![Assertion::Config(exec)]), &o);
    assert_eq!(out.status, Status::Failed);

    // An unset WORKDIR is the root folder.
    let o = obs(vec![with_image("i", image(1))]);
    let root = ConfigExpectation {
        workdir: Some("/".into()),
        ..Default::default()
    };
    let out = evaluate(&check("i", vec![Assertion::Config(root)]), &o);
    assert_eq!(out.status, Status::Passed, "{}", out.message);
}

#[test]
fn a_live_container_ran_an_image_whatever_name_it_was_started_by() {
    let started = |image: &str, id: &str| {
        let mut s = done("c");
        s.container = Some(ContainerFacts {
            name: "hello".into(),
            state: "exited".into(),
            exit_code: Some(0),
            image: image.into(),
            image_id: id.into(),
            image_ids: BTreeMap::from([("hello-world".into(), "sha256:aaaa".into())]),
            ..Default::default()
        });
        obs(vec![s])
    };
    let want = Assertion::Container(ContainerExpectation {
        image: Some("hello-world".into()),
        ..Default::default()
    });
    for name in [
        "sha256:aaaa",
        "docker.io/library/hello-world:latest",
        "aaaa",
    ] {
        let out = evaluate(
            &check("c", vec![want.clone()]),
            &started(name, "sha256:aaaa"),
        );
        assert_eq!(out.status, Status::Passed, "{name}: {}", out.message);
    }
    let other = evaluate(
        &check("c", vec![want]),
        &started("hello-world", "sha256:bbbb"),
    );
    assert_eq!(
        other.status,
        Status::Failed,
        "a retagged other image is not hello-world"
    );
    assert!(other.actual.is_some_and(|a| a.contains("sha256:bbbb")));
}

#[test]
fn checks_after_a_failed_build_are_not_run_and_point_at_the_build_check() {
    let mut build =
        StepObservation::new("image", StepStatus::Failed("build failed: exit 1".into()));
    build.build = Some(BuildFacts {
        succeeded: false,
        error: Some("exit 1".into()),
        ..Default::default()
    });
    let mut run = StepObservation::new(
        "greeting",
        StepStatus::Skipped("not run: step `image` did not complete".into()),
    );
    run.blocked_by = Some("image".into());
    let mut timed_out = with_run("slow", run_facts_timed_out());
    timed_out.status = StepStatus::Failed("timed out after 30s".into());
    let o = obs(vec![build, run, timed_out]);
    let mut builds = check("image", vec![Assertion::Build(BuildExpectation::Succeeds)]);
    builds.name = "Dockerfile builds".into();
    let workdir = check(
        "image",
        vec![Assertion::Config(ConfigExpectation {
            workdir: Some("/software".into()),
            ..Default::default()
        })],
    );
    let greets = check(
        "greeting",
        vec![Assertion::ExitCode(ExitExpectation::Is(0))],
    );
    let slow = check("slow", vec![Assertion::ExitCode(ExitExpectation::Is(0))]);
    let outcomes = evaluate_all(&[builds.clone(), workdir, greets, slow], &o);
    assert_eq!(
        outcomes[0].status,
        Status::Failed,
        "the build check tells why"
    );
    for dependent in &outcomes[1..3] {
        assert_eq!(dependent.status, Status::Skipped);
        assert_eq!(
            dependent.message,
            "not run: the build failed; see `Dockerfile builds`"
        );
        assert!(dependent.expected.is_none() && dependent.actual.is_none());
    }
    assert_eq!(
        outcomes[3].status,
        Status::Failed,
        "a run that timed out failed"
    );

    // Without a check on the build, the step is named instead.
    let outcomes = evaluate_all(
        &[check(
            "greeting",
            vec![Assertion::ExitCode(ExitExpectation::Is(0))],
        )],
        &o,
    );
    assert_eq!(
        outcomes[0].message,
        "not run: the build of step `image` failed (its log is shown with the step)"
    );
}

fn run_facts_timed_out() -> RunFacts {
    RunFacts {
        timed_out: Some(Duration::from_secs(30)),
        ..run(137, "")
    }
}
