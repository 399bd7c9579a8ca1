//! Tests of the build-context walk: what is sent, what is refused, the cap
//! checked while walking, the ignore file's limits, and the tar.

use super::*;

fn rel(s: &str) -> RelPath {
    RelPath::new(s).expect("valid relative path")
}

fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, body) in files {
        let p = dir.path().join(name);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(p, body).expect("write");
    }
    dir
}

#[test]
fn ignored_files_are_not_sent_but_build_files_always_are() {
    let d = tree(&[
        ("Dockerfile", "FROM x"),
        (".dockerignore", "*\n!src\n"),
        ("big.dat", "xxxx"),
        ("src/main.sh", "echo"),
    ]);
    let ctx = collect(d.path(), &rel("."), &rel("Dockerfile"), u64::MAX).expect("collects");
    assert_eq!(
        ctx.names(),
        vec![".dockerignore", "Dockerfile", "src", "src/main.sh"]
    );
    assert_eq!(ctx.dockerfile, "Dockerfile");
}

#[test]
fn a_dockerfile_outside_the_context_is_added_under_its_own_name() {
    let d = tree(&[("Dockerfile.x", "FROM x"), ("app/a.txt", "a")]);
    let ctx = collect(d.path(), &rel("app"), &rel("Dockerfile.x"), u64::MAX).expect("collects");
    assert_eq!(ctx.names(), vec!["a.txt", OUTSIDE_DOCKERFILE]);
    assert_eq!(ctx.dockerfile, OUTSIDE_DOCKERFILE);
}

#[test]
fn layers_merge_but_never_replace_the_submissions_dockerfile() {
    let sub = tree(&[
        ("Dockerfile", "FROM student"),
        ("mine.txt", "m"),
        (".dockerignore", "*.dat\n"),
    ]);
    let extra = tree(&[
        ("Dockerfile", "FROM reference"),
        ("course/hello.sh", "echo"),
        ("big.dat", "x"),
    ]);
    let ctx = collect_layered(
        &[sub.path(), extra.path()],
        &rel("."),
        &rel("Dockerfile"),
        u64::MAX,
    )
    .expect("collects");
    assert_eq!(
        ctx.names(),
        vec![
            ".dockerignore",
            "Dockerfile",
            "course",
            "course/hello.sh",
            "mine.txt"
        ]
    );
    let dockerfile = ctx
        .entries
        .iter()
        .find(|e| e.name == b"Dockerfile")
        .expect("Dockerfile");
    assert_eq!(
        fs::read_to_string(&dockerfile.source).expect("read"),
        "FROM student"
    );
}

#[test]
fn symlinks_out_of_the_submission_are_refused() {
    let d = tree(&[("Dockerfile", "FROM x")]);
    std::os::unix::fs::symlink("/etc/passwd", d.path().join("leak")).expect("symlink");
    let err = collect(d.path(), &rel("."), &rel("Dockerfile"), u64::MAX).expect_err("must refuse");
    assert!(
        matches!(err, SubmissionError::EscapingSymlink { .. }),
        "{err}"
    );
    std::os::unix::fs::symlink("../../", d.path().join("up")).expect("symlink");
    fs::remove_file(d.path().join("leak")).expect("rm");
    let err = collect(d.path(), &rel("."), &rel("Dockerfile"), u64::MAX).expect_err("must refuse");
    assert!(err.to_string().contains("`up` is a symlink"), "{err}");
}

#[test]
fn symlinks_inside_the_submission_are_kept_as_links() {
    let d = tree(&[("Dockerfile", "FROM x"), ("real.txt", "r")]);
    std::os::unix::fs::symlink("real.txt", d.path().join("link.txt")).expect("symlink");
    let ctx = collect(d.path(), &rel("."), &rel("Dockerfile"), u64::MAX).expect("collects");
    let link = ctx
        .entries
        .iter()
        .find(|e| e.name == b"link.txt")
        .expect("link entry");
    assert_eq!(link.kind, EntryKind::Symlink);
}

#[test]
fn a_required_file_that_is_a_link_outside_is_refused() {
    let d = tree(&[]);
    std::os::unix::fs::symlink("/etc/hostname", d.path().join("Dockerfile")).expect("symlink");
    let err = require_file(d.path(), &rel("Dockerfile")).expect_err("must refuse");
    assert!(matches!(err, SubmissionError::EscapingSymlink { .. }));
    let err = require_file(d.path(), &rel("nope")).expect_err("missing");
    assert_eq!(err, SubmissionError::Missing("nope".into()));
}

#[test]
fn the_tar_round_trips_and_its_size_is_counted() {
    let d = tree(&[("Dockerfile", "FROM x"), ("a/b.txt", "hello")]);
    let ctx = collect(d.path(), &rel("."), &rel("Dockerfile"), u64::MAX).expect("collects");
    let mut buf = Vec::new();
    let n = write_tar(&ctx, &mut buf).expect("writes");
    assert_eq!(n as usize, buf.len());
    let mut archive = tar::Archive::new(&buf[..]);
    let names: Vec<String> = archive
        .entries()
        .expect("entries")
        .map(|e| {
            e.expect("entry")
                .path()
                .expect("path")
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(names, vec!["Dockerfile", "a", "a/b.txt"]);
}

#[test]
fn the_walk_stops_once_the_context_is_over_the_cap() {
    let d = tree(&[
        ("Dockerfile", "FROM x"),
        ("a.bin", &"a".repeat(400)),
        ("b.bin", &"b".repeat(300)),
        ("c.bin", &"c".repeat(200)),
        ("d.bin", &"d".repeat(100)),
        ("e.bin", &"e".repeat(500)),
    ]);
    let err = collect(d.path(), &rel("."), &rel("Dockerfile"), 1_000).expect_err("over the cap");
    // Dockerfile (6) + a, b, c (900), then d takes it to 1,006: e is never walked.
    assert_eq!(
        err,
        SubmissionError::ContextTooLarge {
            at_least: 1_006,
            max: 1_000,
            biggest: vec![
                ("a.bin".into(), 400),
                ("b.bin".into(), 300),
                ("c.bin".into(), 200)
            ],
        }
    );
    assert_eq!(
        err.to_string(),
        "the build context is at least 1.01 kB, over the 1.00 kB limit; the biggest files are \
         a.bin (400 B), b.bin (300 B), c.bin (200 B). List what the image does not need in \
         .dockerignore, or build from a folder without it"
    );
    let ctx = collect(d.path(), &rel("."), &rel("Dockerfile"), 1_506).expect("at the cap");
    assert_eq!(ctx.content_bytes, 1_506);
}

#[test]
fn files_a_later_layer_replaces_are_counted_once() {
    let sub = tree(&[("Dockerfile", "FROM x"), ("data.bin", &"s".repeat(600))]);
    let extra = tree(&[("data.bin", &"e".repeat(600))]);
    let ctx = collect_layered(
        &[sub.path(), extra.path()],
        &rel("."),
        &rel("Dockerfile"),
        700,
    )
    .expect("the merged context is under the cap");
    assert_eq!(ctx.content_bytes, 606);
    let data = ctx
        .entries
        .iter()
        .find(|e| e.name == b"data.bin")
        .expect("data");
    assert!(
        data.source
            .starts_with(fs::canonicalize(extra.path()).expect("canonical"))
    );
}

#[test]
fn an_ignore_file_over_the_size_cap_is_refused_without_reading_it_all() {
    let d = tree(&[("Dockerfile", "FROM x"), ("app/a.txt", "a")]);
    let big = "**/x\n".repeat(MAX_IGNORE_FILE_BYTES as usize / 4);
    fs::write(d.path().join("app/.dockerignore"), big).expect("write");
    let err = collect(d.path(), &rel("app"), &rel("Dockerfile"), u64::MAX).expect_err("too big");
    assert_eq!(
        err.to_string(),
        "`app/.dockerignore` is 2.50 MB, more than the 2.00 MB allowed"
    );
}

#[test]
fn an_ignore_file_with_too_many_patterns_is_refused() {
    let lines: String = (0..=MAX_IGNORE_PATTERNS)
        .map(|i| format!("f{i}\n"))
        .collect();
    let d = tree(&[("Dockerfile", "FROM x"), (".dockerignore", &lines)]);
    let err = collect(d.path(), &rel("."), &rel("Dockerfile"), u64::MAX).expect_err("too many");
    assert_eq!(
        err.to_string(),
        format!(
            "`.dockerignore` has {} patterns, more than the {MAX_IGNORE_PATTERNS} allowed",
            MAX_IGNORE_PATTERNS + 1
        )
    );
}

#[test]
fn an_ignore_file_that_is_a_fifo_or_leads_outside_is_refused() {
    let d = tree(&[("Dockerfile", "FROM x")]);
    let status = std::process::Command::new("mkfifo")
        .arg(d.path().join(".dockerignore"))
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    let err = collect(d.path(), &rel("."), &rel("Dockerfile"), u64::MAX).expect_err("a FIFO");
    assert_eq!(err, SubmissionError::NotAFile(".dockerignore".into()));
    fs::remove_file(d.path().join(".dockerignore")).expect("rm");
    std::os::unix::fs::symlink("/etc/passwd", d.path().join(".dockerignore")).expect("symlink");
    let err = collect(d.path(), &rel("."), &rel("Dockerfile"), u64::MAX).expect_err("a link");
    assert!(
        matches!(err, SubmissionError::EscapingSymlink { .. }),
        "{err}"
    );
}

#[test]
fn tar_errors_name_the_entry_that_could_not_be_read() {
    let d = tree(&[("Dockerfile", "FROM x"), ("data/x.bin", "12345678")]);
    let ctx = collect(d.path(), &rel("."), &rel("Dockerfile"), u64::MAX).expect("collects");
    fs::remove_file(d.path().join("data/x.bin")).expect("rm");
    let err = write_tar(&ctx, Vec::new()).expect_err("the file is gone");
    assert_eq!(
        err.to_string(),
        "cannot read `data/x.bin`: No such file or directory (os error 2)"
    );
}

#[test]
fn a_file_that_shrank_since_the_walk_is_not_sent_short() {
    let d = tree(&[("Dockerfile", "FROM x"), ("x.bin", "12345678")]);
    let ctx = collect(d.path(), &rel("."), &rel("Dockerfile"), u64::MAX).expect("collects");
    let mut entry = ctx
        .entries
        .iter()
        .find(|e| e.name == b"x.bin")
        .expect("x")
        .clone();
    // The header is written from the file as it is when archived; make
    // the read side come up short by reading a shorter file under its name.
    let short = d.path().join("short.bin");
    fs::write(&short, "1234").expect("write");
    entry.source = short;
    let content = tarball::Content::new(fs::File::open(&entry.source).expect("open"), 8, &entry);
    let err = std::io::copy(&mut { content }, &mut std::io::sink()).expect_err("short");
    assert_eq!(
        err.to_string(),
        "cannot read `x.bin`: it is 4 bytes shorter than when the context was collected"
    );
}
