//! Spec errors: every mistake in a file, each at the offending key's
//! file:line:column, rendered as the terminal shows them (snapshots).

use dockgrade::spec::{SpecError, parse_exercise};

fn render(file: &str, text: &str) -> String {
    match parse_exercise(file, text) {
        Ok(_) => panic!("{file} should not parse"),
        Err(errors) => errors
            .iter()
            .map(SpecError::render)
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[test]
fn all_errors_of_a_file_are_reported_at_once() {
    let text = r#"id = "many-mistakes"
title = "Many mistakes"
sectoin = "2.2"

[submission]
required = ["../outside", "/etc/passwd", "ok.txt"]

[[steps]]
name = "base"
image = "debian:bookworm-slim"
pull = "never"

[[steps]]
name = "base"
pull = "sometimes"
build = { dockerfile = "Dockerfile", context = "..", no_cache = "yes" }

[[steps]]
name = "Final Image"
run = { image = "base", timeout = "forever", network = "host", mounts = [{ type = "bind", target = "data" }] }

[[checks]]
name = "size"
step = "base"
size = { max_over = "nowhere", by = "10 XB" }
exit_code = 0

[[checks]]
name = "output"
step = "base"
stdout = { matches = "(unclosed" }
points = -1

[[checks]]
name = "nothing"
step = "ghost"
"#;
    insta::assert_snapshot!(render("exercises/many-mistakes.toml", text));
}

#[test]
fn syntax_errors_point_into_the_toml() {
    insta::assert_snapshot!(render(
        "exercises/broken.toml",
        "id = \"broken\"\ntitle = \"x\n[[steps]]\n"
    ));
}

#[test]
fn assertions_must_fit_their_step() {
    let text = r#"id = "kinds"
title = "Kinds"

[[steps]]
name = "img"
image = "busybox:1.35"

[[steps]]
name = "run"
run = { image = "img" }

[[steps]]
name = "rerun"
run = { image = "run" }

[[checks]]
name = "exit code on an image"
step = "img"
exit_code = 0

[[checks]]
name = "files on a run"
step = "run"
files = { present = ["relative/path"] }
build = "succeeds"

[[checks]]
name = "empty"
step = "img"
user = { }
layers = { }
config = { }
"#;
    insta::assert_snapshot!(render("exercises/kinds.toml", text));
}

#[test]
fn the_id_must_match_the_file_name() {
    let text = "id = \"other\"\ntitle = \"t\"\n[[steps]]\nname = \"i\"\nimage = \"x:1\"\n[[checks]]\nname = \"c\"\nstep = \"i\"\nlayers = { max = 3 }\n";
    insta::assert_snapshot!(render("exercises/mine.toml", text));
}

#[test]
fn a_valid_spec_parses_into_the_model() {
    let text = r#"id = "ok"
title = "Fine"
section = 2.2
[[steps]]
name = "b"
build = { dockerfile = "sub/Dockerfile.x", context = "./sub/", target = "stage", args = { A = "1", B = 2 } }
[[checks]]
name = "c"
step = "b"
size = { max = "1.5 GB", min = 1024 }
context = { max = "1 MiB" }
"#;
    let ex = parse_exercise("exercises/ok.toml", text).expect("parses");
    assert_eq!(ex.section.as_deref(), Some("2.2"));
    let dockgrade::spec::StepKind::Build(b) = &ex.steps[0].kind else {
        panic!("a build step")
    };
    assert_eq!(
        (
            b.dockerfile.as_str(),
            b.context.as_str(),
            b.target.as_deref()
        ),
        ("sub/Dockerfile.x", "sub", Some("stage"))
    );
    assert_eq!(b.args.get("B").map(String::as_str), Some("2"));
    let check = &ex.checks[0];
    assert_eq!(check.points, 1);
    assert_eq!(check.assertions.len(), 2);
}

#[test]
fn a_run_keeps_or_replaces_the_entrypoint_but_not_both_and_disk_is_a_size() {
    let text = r#"id = "x"
title = "x"
[[steps]]
name = "r"
run = { image = "busybox:1.35", cmd = ["id"], entrypoint = ["sh"], keep_entrypoint = true, limits = { disk = "10 kB" } }
[[checks]]
name = "c"
step = "r"
exit_code = 0
"#;
    let rendered = render("exercises/x.toml", text);
    assert!(
        rendered.contains(
            "`entrypoint` replaces the image's ENTRYPOINT; `keep_entrypoint` keeps it: choose one"
        ),
        "{rendered}"
    );
    assert!(
        rendered.contains("disk must be at least 1 MB"),
        "{rendered}"
    );
}

#[test]
fn lint_warns_when_a_check_would_hear_the_images_entrypoint() {
    let text = r#"id = "x"
title = "x"
[[steps]]
name = "r"
run = { image = "busybox:1.35", cmd = ["id", "-u"], keep_entrypoint = true }
[[checks]]
name = "uid"
step = "r"
stdout = { equals = "1000" }
"#;
    let ex = parse_exercise("exercises/x.toml", text).expect("allowed");
    assert_eq!(ex.warnings.len(), 1);
    let rendered = ex.warnings[0].render_as("warning");
    assert!(
        rendered.starts_with(
            "warning: exercises/x.toml:6:1: checks[0]: step `r` keeps the image's ENTRYPOINT"
        ),
        "{rendered}"
    );
    let quiet = text.replace(", keep_entrypoint = true", "");
    assert!(
        parse_exercise("exercises/x.toml", &quiet)
            .expect("parses")
            .warnings
            .is_empty()
    );
}

#[test]
fn services_pushes_and_requests_are_checked_against_the_steps() {
    let text = r#"id = "registry-mistakes"
title = "Registry mistakes"

[[steps]]
name = "app"
image = "busybox:1.35"

[[steps]]
name = "early-push"
push = { image = "app", to = "registry", as = "Course/App" }

[[steps]]
name = "registry"
service = { image = "registry:2", port = 70000, ready = { http = "v2" } }

[[steps]]
name = "push"
push = { image = "registry", to = "app", as = ["course/app:1.0"] }
after = ["ghost"]

[[steps]]
name = "gc"
exec = { service = "push", cmd = [] }

[[steps]]
name = "probe"
run = { image = "app", network = "exercise" }

[[checks]]
name = "blob gone"
step = "probe"
http = { service = "registry", method = "POST", path = "/v2/x/blobs/{push.layer[0]}", status = 999 }

[[checks]]
name = "asks nothing"
step = "probe"
http = { service = "app", path = "/v2/" }

[[checks]]
name = "disk"
step = "probe"
disk = { service = "registry", path = "var/lib/registry", grew_since = "probe", shrank_since = "registry", by = "1 MB" }
"#;
    insta::assert_snapshot!(render("exercises/registry-mistakes.toml", text));
}

#[test]
fn a_registry_exercise_parses_into_services_pushes_and_requests() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/exercises/04-registry-gc.toml"
    ))
    .unwrap();
    let ex = parse_exercise("04-registry-gc.toml", &text).unwrap();
    let kinds: Vec<&str> = ex
        .steps
        .iter()
        .map(|s| s.kind.step_type().as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "service", "build", "build", "build", "push", "push", "run", "exec"
        ]
    );
    let gc = ex.steps.iter().find(|s| s.name == "gc").unwrap();
    assert_eq!(gc.after, ["cleanup"]);
}
