//! `report.html` in a real browser: Debian's chromium, headless, loads the
//! page a batch wrote and the test reads the rendered DOM (students, scores,
//! the grid's cells, a report opened by its link) and the browser's console
//! (no errors). Hostile ids and output (`<script>`, ANSI escapes) must stay
//! text. A screenshot is kept in `target/report-html.png` for CI.
//! Without chromium the test says so and passes, unless
//! `DOCKGRADE_REQUIRE_REFERENCE_TOOLS=1` (`.ci/run` installs it).

mod common;

use std::process::Command;

use common::Workspace;

const HELLO: &str = r#"
id = "hello"
title = "Say hello"
[[steps]]
name = "image"
build = { dockerfile = "Dockerfile", network = "none", timeout = "60s" }
[[steps]]
name = "run"
run = { image = "image", timeout = "20s" }
[[checks]]
name = "it builds"
step = "image"
build = "succeeds"
[[checks]]
name = "it says hello"
step = "run"
stdout = { contains = "hello" }
points = 2
"#;

/// The script a hostile submission would like to run in the page.
const PWN: &str = "<img src=x onerror=document.title='PWNED'>";

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

fn headless(browser: &str, args: &[&str]) -> std::process::Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .args(args)
        .output()
        .expect("the browser runs")
}

#[test]
fn the_class_report_renders_in_a_browser_and_keeps_hostile_text_inert() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("DOCKGRADE_REQUIRE_REFERENCE_TOOLS").as_deref() != Ok("1"),
            "chromium is required here (apt-get install chromium)"
        );
        eprintln!("skipped: chromium is not installed");
        return;
    };
    let ws = Workspace::new();
    ws.write("exercises/hello.toml", HELLO);
    let students = [
        ("alice", r#"["echo", "hello"]"#),
        ("bob", r#"["echo", "bye"]"#),
        (
            "mallory",
            r#"["printf", "bye \\033[2J<script>document.title='PWNED'</script>"]"#,
        ),
    ];
    for (id, cmd) in students {
        ws.write(
            &format!("subs/{id}/Dockerfile"),
            format!("FROM busybox:1.35\nCMD {cmd}\n"),
        );
    }
    // A student id that is markup.
    ws.write(
        &format!("subs/{PWN}/Dockerfile"),
        "FROM busybox:1.35\nCMD [\"echo\", \"hello\"]\n",
    );
    let out = ws
        .dockgrade()
        .args(["batch", "subs", "--out", "grades"])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = ws.path("grades/report.html");
    let html = std::fs::read_to_string(&page).expect("report.html");
    assert!(
        !html.contains(PWN) && !html.contains("<img"),
        "escaped in the file"
    );
    assert!(!html.contains("<script>document"), "escaped in the file");
    assert!(!html.contains('\u{1b}'), "no escape byte in the file");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing from the network"
    );
    // Opened at a student's report: the link target opens it.
    let url = format!("file://{}#report-bob", page.display());
    let dom = headless(browser, &["--virtual-time-budget=3000", "--dump-dom", &url]);
    let rendered = String::from_utf8_lossy(&dom.stdout);
    let console = String::from_utf8_lossy(&dom.stderr);
    assert!(
        rendered.contains("<title>dockgrade: class report</title>"),
        "{rendered}"
    );
    // The id is shown as text; had its script run, the title would say so.
    assert!(rendered.contains("&lt;img src=x onerror="), "{rendered}");
    assert!(
        !rendered.contains("<title>PWNED</title>"),
        "no submission script ran"
    );
    assert!(
        !rendered.contains("<img src=\"x\""),
        "no submission markup: {rendered}"
    );
    assert_eq!(
        rendered.matches("<tr class=\"student\"").count(),
        4,
        "{rendered}"
    );
    assert_eq!(
        rendered.matches("<td class=\"pass\"").count(),
        6,
        "cells: {rendered}"
    );
    assert_eq!(
        rendered.matches("<td class=\"fail\"").count(),
        2,
        "cells: {rendered}"
    );
    // mallory's output, in her report, is text.
    assert!(
        rendered.contains("&lt;script&gt;document.title="),
        "{rendered}"
    );
    assert!(
        rendered.contains(">3/3</td>") && rendered.contains(">1/3</td>"),
        "{rendered}"
    );
    assert!(
        rendered.contains("<details id=\"report-bob\" open=\"\">"),
        "bob's report opened by its link: {rendered}"
    );
    assert!(rendered.contains("4 students, 1 exercises"), "{rendered}");
    for line in console.lines() {
        let ours = line.contains("CONSOLE") || line.contains("Uncaught");
        assert!(!ours, "the page logged: {line}");
    }
    let shot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-html.png");
    let screenshot = headless(
        browser,
        &[
            "--window-size=1200,900",
            &format!("--screenshot={}", shot.display()),
            &url,
        ],
    );
    assert!(
        screenshot.status.success() && shot.is_file(),
        "a screenshot for CI"
    );
}
