//! `.dockerignore` conformance: dockgrade sends what `docker build` sends.
//!
//! For each ignore file, the same context is built twice with `COPY . /ctx`:
//! once by the docker CLI's legacy builder (the reference) and once by
//! dockgrade, whose exercise asserts that the image lists exactly the files
//! the reference image lists.

mod common;

use common::{Workspace, check_named, docker};

/// The same tree for every case, with the corners the rules care about.
const TREE: &[&str] = &[
    "keep.txt",
    "secret.txt",
    "spaced.txt",
    "a.txt",
    "b.txt",
    "c.txt",
    "file1.txt",
    "file10.txt",
    "x.dat",
    "app.log",
    "data/big.dat",
    "data/keep.txt",
    "data/sub/inner.txt",
    "sub/one/deep",
    "sub/two/deep/x",
    "sub/three/other",
    "src/main.sh",
    "src/lib/util.sh",
    "src/app.log",
    "docs/readme.md",
    "docs/guide/intro.md",
    "docs/guide/img.png",
];

const CASES: &[(&str, Option<&str>)] = &[
    ("no-ignore-file", None),
    ("star-extension", Some("*.dat\n")),
    ("folder", Some("data\n")),
    ("double-star", Some("**/*.log\n")),
    ("everything-but", Some("*\n!keep.txt\n")),
    (
        "exception-inside-excluded-folder",
        Some("data\n!data/keep.txt\n"),
    ),
    ("leading-slash", Some("/secret.txt\n/data/sub\n")),
    (
        "comments-and-whitespace",
        Some("# a comment\n  spaced.txt  \n\n#secret.txt\n"),
    ),
    (
        "build-files-listed",
        Some("Dockerfile\n.dockerignore\n*.txt\n"),
    ),
    ("star-in-the-middle", Some("sub/*/deep\n")),
    ("question-mark", Some("file?.txt\n")),
    ("character-class", Some("[ab].txt\n")),
    ("all-but-a-folder", Some("**\n!src/**\n!Dockerfile\n")),
    ("nested-double-star", Some("docs/**/*.md\n")),
    ("cleaned-pattern", Some("data/../b.txt\n./c.txt\n")),
    ("last-match-wins", Some("*.txt\n!*.txt\nsecret.txt\n")),
];

const DOCKERFILE: &str =
    "FROM busybox:1.35\nCOPY . /ctx\nCMD [\"sh\", \"-c\", \"cd /ctx && find . | sort\"]\n";

fn reference_listing(dir: &std::path::Path, case: &str) -> String {
    let tag = format!("dockgrade-conformance:{}-{case}", std::process::id());
    let build = std::process::Command::new("docker")
        .args(["build", "-q", "--label", "io.dockgrade=1", "-t", &tag, "."])
        .env("DOCKER_BUILDKIT", "0")
        .current_dir(dir)
        .output()
        .expect("docker build runs");
    assert!(
        build.status.success(),
        "reference build failed for {case}: {}",
        String::from_utf8_lossy(&build.stderr)
    );
    let run = docker(&[
        "run",
        "--rm",
        "--label",
        "io.dockgrade=1",
        "--network",
        "none",
        &tag,
    ]);
    let removed = docker(&["image", "rm", &tag]);
    assert!(removed.status.success(), "could not remove {tag}");
    assert!(run.status.success(), "reference run failed for {case}");
    String::from_utf8_lossy(&run.stdout).into_owned()
}

#[test]
fn dockgrade_sends_the_same_context_as_docker_build() {
    let mut mismatches = Vec::new();
    for (case, ignore) in CASES {
        let ws = Workspace::new();
        for file in TREE {
            ws.write(&format!("sub/{file}"), file.as_bytes());
        }
        ws.write("sub/Dockerfile", DOCKERFILE);
        if let Some(text) = ignore {
            ws.write("sub/.dockerignore", text);
        }
        let expected = reference_listing(&ws.path("sub"), case);
        assert!(
            expected.lines().count() > 1,
            "{case}: suspiciously empty reference:\n{expected}"
        );
        let mut spec = format!(
            "id = \"conformance\"\ntitle = \"{case}\"\n\
             [[steps]]\nname = \"image\"\nbuild = {{ dockerfile = \"Dockerfile\" }}\n\
             [[steps]]\nname = \"list\"\nrun = {{ image = \"image\" }}\n\
             [[checks]]\nname = \"same files\"\nstep = \"list\"\nstdout = {{ equals = {expected:?} }}\n"
        );
        // One check per path, so a difference names the file.
        for path in TREE.iter().chain(&["Dockerfile", ".dockerignore"]) {
            let line = format!("./{path}\n");
            let (verb, key) = if expected.contains(&line) {
                ("has", "contains")
            } else {
                ("lacks", "not_contains")
            };
            spec.push_str(&format!(
                "[[checks]]\nname = \"{verb} {path}\"\nstep = \"list\"\nstdout = {{ {key} = {line:?} }}\n"
            ));
        }
        ws.write("exercises/conformance.toml", spec);
        let (code, stdout, report) = ws.check(&["--submission", "sub"]);
        if code != 0 {
            let c = check_named(&report, "same files");
            // The report's excerpt is short: diff against what the library
            // decides to send, and what the image listed.
            let sent = dockgrade::build_context::collect(
                &ws.path("sub"),
                &dockgrade::spec::RelPath::new(".").expect("root"),
                &dockgrade::spec::RelPath::new("Dockerfile").expect("path"),
                u64::MAX,
            )
            .map(|ctx| ctx.names())
            .unwrap_or_default();
            let reference: Vec<&str> = expected.lines().collect();
            let extra: Vec<&String> = sent
                .iter()
                .filter(|n| !reference.contains(&format!("./{n}").as_str()))
                .collect();
            let differing: Vec<&str> = report["exercises"][0]["checks"]
                .as_array()
                .expect("checks")
                .iter()
                .filter(|c| c["status"] != "passed" && c["name"] != "same files")
                .map(|c| c["name"].as_str().expect("name"))
                .collect();
            mismatches.push(format!(
                "{case}: {}\n  per path: {differing:?}\n  dockgrade's walk sends, beyond docker: {extra:?}\n{stdout}",
                c["message"]
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ:\n{}",
        mismatches.len(),
        CASES.len(),
        mismatches.join("\n")
    );
}
