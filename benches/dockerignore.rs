//! How long `build_context::collect` takes, and how much memory, on the
//! hostile submissions it must survive: 200,000 tiny files without a
//! `.dockerignore`, then the same files with 50,000 patterns, then two
//! ignore files it must refuse (one over the size cap, one whose wildcard
//! patterns all share a literal, so every path would try each of them).
//!
//!     cargo bench --bench dockerignore            # the figures in docs/bench.md
//!     cargo bench --bench dockerignore -- 20000   # fewer files, for a quick look
//!
//! Each case runs in a child process of its own, so its peak resident
//! memory (`VmHWM` in /proc/self/status) is its own. The files are written
//! once to a temporary folder, before anything is timed.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use dockgrade::build_context::collect;
use dockgrade::spec::RelPath;

const FILES: usize = 200_000;
const PATTERNS: usize = 50_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [case, dir] = &args[..]
        && case.starts_with("case:")
    {
        run_case(&case[5..], Path::new(dir));
        return;
    }
    let files = args
        .iter()
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(FILES);
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    write_tree(dir.path(), files);
    println!(
        "{files} files written in {:.1} s under {}",
        started.elapsed().as_secs_f64(),
        dir.path().display()
    );
    println!("| case | files sent | time | peak RSS |\n|---|---|---|---|");
    child("no .dockerignore", dir.path());
    std::fs::write(dir.path().join(".dockerignore"), many_patterns(PATTERNS)).expect("write");
    child("50,000 patterns", dir.path());
    let mut huge = many_patterns(PATTERNS);
    while huge.len() < 9_900_000 {
        huge.push_str("**/padding/to/reach/the/size/of/the/hostile/file/that/was/reported\n");
    }
    std::fs::write(dir.path().join(".dockerignore"), huge).expect("write");
    child("9.9 MB .dockerignore", dir.path());
    // Distinct lines (identical ones cost one rule), all filed under `f`.
    let shared: String = (0..2_000)
        .map(|i| format!("**/*f{}{}\n", "?".repeat(i % 60), "*".repeat(1 + i / 60)))
        .collect();
    std::fs::write(dir.path().join(".dockerignore"), shared).expect("write");
    child("2,000 globs sharing a literal", dir.path());
}

/// Runs one case in a fresh process and prints its table row.
fn child(case: &str, dir: &Path) {
    let out = Command::new(std::env::current_exe().expect("own path"))
        .arg(format!("case:{case}"))
        .arg(dir)
        .output()
        .expect("the bench runs itself");
    assert!(
        out.status.success(),
        "{case}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{}", String::from_utf8_lossy(&out.stdout));
}

fn run_case(case: &str, dir: &Path) {
    let started = Instant::now();
    let collected = collect(
        dir,
        &RelPath::root(),
        &RelPath::new("Dockerfile").expect("a relative path"),
        u64::MAX,
    );
    let elapsed = started.elapsed().as_secs_f64();
    let sent = match collected {
        Ok(ctx) => ctx.entries.len().to_string(),
        Err(e) => format!("refused: {e}"),
    };
    println!(
        "| {case} | {sent} | {elapsed:.2} s | {:.1} MB |",
        peak_rss_kib() as f64 / 1024.0
    );
}

/// 200 folders of tiny files; some names are what the patterns aim at.
fn write_tree(dir: &Path, files: usize) {
    std::fs::write(dir.join("Dockerfile"), "FROM busybox:1.35\nCOPY . /app\n").expect("write");
    let per_folder = 1_000;
    for i in 0..files {
        let folder = dir.join(format!("d{}", i / per_folder));
        if i % per_folder == 0 {
            std::fs::create_dir_all(folder.join("cache")).expect("mkdir");
        }
        let name = match i % 10 {
            0 => format!("cache/name{}", i % PATTERNS),
            1 => format!("f{i}.tmp"),
            2 => format!("x{}cache{}y.txt", i, i % 10_000),
            3 => format!("keep{i}"),
            _ => format!("f{i}.txt"),
        };
        std::fs::write(folder.join(name), b"x").expect("write");
    }
}

/// The shapes a generated `.dockerignore` takes, `**/…` first among them.
fn many_patterns(n: usize) -> String {
    let mut out = String::new();
    for i in 0..n {
        let line = match i % 10 {
            0..=3 => format!("**/name{i}"),
            4 | 5 => format!("**/d{}/*.tmp", i % 200),
            6 | 7 => format!("**/*cache{i}*"),
            8 => format!("d{}/f{i}.txt", i % 200),
            _ if i % 100 == 9 => format!("**/[Bb]uild{i}"),
            _ if i % 100 == 19 => format!("!**/keep{}", i % 1_000 * 10 + 3),
            _ => format!("gen/d{i}/**"),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("procfs")
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
