//! Layer forensics against the real daemon: paths in no layer, wasted bytes
//! and efficiency as dive counts them, and a size failure that says which
//! layers made the image big. busybox-based, no network.

mod common;

use common::{Workspace, check_named};

const SPEC: &str = r#"
id = "layers"
title = "Layers"

[[steps]]
name = "base"
image = "busybox:1.35"

[[steps]]
name = "image"
build = { dockerfile = "Dockerfile", network = "none", timeout = "60s" }

[[checks]]
name = "no token in any layer"
step = "image"
layers = { absent = ["/secret/token", "/cache/**"] }

[[checks]]
name = "little waste"
step = "image"
wasted = { max = "10 kB" }

[[checks]]
name = "efficient"
step = "image"
efficiency = { min = 0.99 }

[[checks]]
name = "small"
step = "image"
size = { max_over = "base", by = "100 kB" }
"#;

fn graded(dockerfile: &str) -> serde_json::Value {
    let ws = Workspace::new();
    ws.write("exercises/layers.toml", SPEC);
    ws.write("Dockerfile", dockerfile);
    let (_, stdout, report) = ws.check(&[]);
    assert_eq!(
        report["exercises"][0]["steps"][1]["status"], "done",
        "the build works: {stdout}"
    );
    report
}

#[test]
fn a_secret_deleted_in_a_later_layer_is_found_where_it_was_added() {
    let report = graded(
        "FROM busybox:1.35\n\
         RUN mkdir /secret && head -c 300000 /dev/urandom > /secret/token\n\
         RUN rm /secret/token\n",
    );
    let absent = check_named(&report, "no token in any layer");
    assert_eq!(absent["status"], "failed", "{absent}");
    let actual = absent["actual"].as_str().expect("actual");
    assert!(
        actual.starts_with("/secret/token added by layer 2 · RUN mkdir /secret && head -c 300000")
            && actual.contains("deleted by layer 3 · RUN rm /secret/token")
            && actual.contains("(still in the image)"),
        "{actual}"
    );
    // dive's count: the token's bytes, in the layer that added it; the
    // whiteout that deletes it makes it a path used twice.
    let wasted = check_named(&report, "little waste");
    assert_eq!(wasted["status"], "failed", "{wasted}");
    let said = wasted["actual"].as_str().expect("actual");
    assert!(
        said.starts_with("300 kB wasted: /secret/token 300 kB in layer 2 (RUN mkdir"),
        "{said}"
    );
    assert_eq!(check_named(&report, "efficient")["status"], "failed");
    // The image is 300 kB over its base: the failure says which layer.
    let size = check_named(&report, "small");
    assert_eq!(size["status"], "failed", "{size}");
    let said = size["actual"].as_str().expect("actual");
    assert!(
        said.contains("layers added: RUN mkdir /secret && head -c 300000 /dev/urandom > /secret/token (300 kB)"),
        "{said}"
    );
}

#[test]
fn an_image_that_never_held_the_paths_passes_every_layer_check() {
    let report = graded(
        "FROM busybox:1.35\n\
         RUN mkdir /cachet /secret && echo hello > /secret/readme\n",
    );
    for name in [
        "no token in any layer",
        "little waste",
        "efficient",
        "small",
    ] {
        let check = check_named(&report, name);
        assert_eq!(check["status"], "passed", "{name}: {check}");
    }
}

#[test]
fn a_glob_finds_files_a_later_layer_hid_under_an_opaque_folder() {
    let report = graded(
        "FROM busybox:1.35\n\
         RUN mkdir -p /cache/a && echo x > /cache/a/blob\n\
         RUN rm -rf /cache && mkdir /cache\n",
    );
    let absent = check_named(&report, "no token in any layer");
    assert_eq!(absent["status"], "failed", "{absent}");
    let actual = absent["actual"].as_str().expect("actual");
    assert!(
        actual.contains("/cache/a/blob added by layer 2"),
        "{actual}"
    );
    assert!(actual.contains("deleted by layer 3"), "{actual}");
}

const SECRETS: &str = r#"
id = "secrets"
title = "Secrets"

[[steps]]
name = "image"
build = { dockerfile = "Dockerfile", network = "none", timeout = "60s", args = { API_TOKEN = "ghp_0123456789abcdefghijABCDEFGHIJ012345" } }

[[checks]]
name = "no credentials"
step = "image"
secrets = "none"

[[checks]]
name = "the course's Dockerfile rules"
step = "image"
dockerfile = { rules = ["latest-from", "remove-in-later-run"] }
"#;

fn graded_secrets(dockerfile: &str, files: &[(&str, &str)]) -> serde_json::Value {
    let ws = Workspace::new();
    ws.write("exercises/secrets.toml", SECRETS);
    ws.write("Dockerfile", dockerfile);
    for (path, content) in files {
        ws.write(path, content);
    }
    ws.check(&[]).2
}

#[test]
fn credentials_in_a_deleted_layer_the_config_and_the_history_are_found() {
    let report = graded_secrets(
        "FROM busybox:1.35\n\
         COPY id_ed25519 /root/.ssh/id_ed25519\n\
         RUN rm /root/.ssh/id_ed25519\n\
         ENV DB_PASSWORD=hunter2\n\
         ARG API_TOKEN\n\
         RUN echo using the token > /dev/null\n",
        &[(
            "id_ed25519",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
        )],
    );
    let secrets = check_named(&report, "no credentials");
    assert_eq!(secrets["status"], "failed", "{secrets}");
    let said = secrets["actual"].as_str().expect("actual");
    assert!(
        said.contains("/root/.ssh/id_ed25519 in layer 2 · COPY file:")
            && said.contains("an SSH private key"),
        "{said}"
    );
    assert!(
        said.contains("ENV DB_PASSWORD in the config: a value under a secret's name (hu…)"),
        "{said}"
    );
    assert!(
        said.contains("build argument API_TOKEN holds a GitHub token (ghp_…)"),
        "{said}"
    );
    let report = serde_json::to_string(&report).expect("JSON");
    assert!(
        !report.contains("hunter2") && !report.contains("ghp_0123456789"),
        "values never shown"
    );
    assert!(
        !report.contains("b3BlbnNzaC1rZXkt"),
        "key contents never shown"
    );
}

#[test]
fn an_image_without_credentials_and_a_dockerfile_rule_by_its_line() {
    let report = graded_secrets(
        "FROM busybox:1.35\n\
         COPY notes.txt /notes.txt\n\
         RUN apt-get update && apt-get install -y git || true\n\
         RUN apt-get purge -y git || true\n",
        &[("notes.txt", "nothing secret here\n")],
    );
    // The build argument is given, but no ARG takes it: not in the history.
    assert_eq!(check_named(&report, "no credentials")["status"], "passed");
    let rules = check_named(&report, "the course's Dockerfile rules");
    assert_eq!(rules["status"], "failed", "{rules}");
    let said = rules["actual"].as_str().expect("actual");
    assert!(
        said.starts_with("line 4: ") && said.ends_with("[remove-in-later-run]"),
        "{said}"
    );
}
