//! `dockgrade validate`: course CI. The course itself is what is tested.
//!
//! For every exercise, the reference solution (`solutions/<id>/`) must pass
//! every check, and every known-wrong submission (`solutions/<id>/wrong/<case>/`)
//! must fail exactly the checks its `expect.toml` lists and pass the rest. A
//! check that no wrong case makes fail is reported too: a check that cannot
//! fail is a defect of the course. Grading goes through the same runner as
//! `check`; this module only compares outcomes with expectations and reports.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::check::Status;
use crate::engine::Engine;
use crate::event::ExerciseResult;
use crate::exit;
use crate::report::printable;
use crate::runner::{self, RunOptions};
use crate::spec::{Exercise, Mode};

/// `solutions/<id>/wrong/<case>/expect.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The beginner mistake this case makes, in a sentence.
    pub mistake: String,
    /// Names of the checks this submission must not pass.
    pub fails: Vec<String>,
}

/// One graded submission compared with what it should do.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub exercise: String,
    /// `solution` or `wrong/<case>`.
    pub case: String,
    pub mistake: Option<String>,
    pub ok: bool,
    pub expected_failures: Vec<String>,
    pub actual_failures: Vec<String>,
    /// What does not match, in words; empty when `ok`.
    pub problems: Vec<String>,
    pub duration_seconds: f64,
}

/// A check that no wrong case makes fail.
#[derive(Debug, Clone, Serialize)]
pub struct Uncovered {
    pub exercise: String,
    pub check: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ValidateReport {
    pub schema: &'static str,
    pub cases: Vec<CaseResult>,
    pub uncovered: Vec<Uncovered>,
    pub infrastructure_errors: usize,
}

impl ValidateReport {
    pub fn exit_code(&self) -> i32 {
        if self.infrastructure_errors > 0 {
            exit::INFRASTRUCTURE
        } else if self.cases.iter().any(|c| !c.ok) || !self.uncovered.is_empty() {
            exit::CHECK_FAILED
        } else {
            exit::SUCCESS
        }
    }
}

/// The submissions to grade for one exercise, with what each must fail.
pub fn cases(
    exercise: &Exercise,
    solutions: &Path,
) -> Result<Vec<(String, PathBuf, Option<Expectation>)>, String> {
    let dir = solutions.join(&exercise.id);
    if !dir.is_dir() {
        return Err(format!(
            "no reference solution: {} does not exist",
            dir.display()
        ));
    }
    let mut out = vec![("solution".to_string(), dir.clone(), None)];
    let wrong = dir.join("wrong");
    let mut names: Vec<PathBuf> = match fs::read_dir(&wrong) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    for case in names {
        let file = case.join("expect.toml");
        let text = fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let expect: Expectation =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        for name in &expect.fails {
            if !exercise.checks.iter().any(|c| &c.name == name) {
                return Err(format!(
                    "{}: no check named {name:?} in exercise {}",
                    file.display(),
                    exercise.id
                ));
            }
        }
        let label = format!(
            "wrong/{}",
            case.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        out.push((label, case, Some(expect)));
    }
    Ok(out)
}

/// Compares a graded submission with its expectation.
pub fn compare(
    exercise: &Exercise,
    case: &str,
    expect: Option<&Expectation>,
    result: &ExerciseResult,
) -> CaseResult {
    let actual: BTreeSet<String> = result
        .outcomes
        .iter()
        .filter(|o| o.status != Status::Passed)
        .map(|o| o.name.clone())
        .collect();
    let expected: BTreeSet<String> = expect
        .map(|e| e.fails.iter().cloned().collect())
        .unwrap_or_default();
    let mut problems = Vec::new();
    for o in result.outcomes.iter().filter(|o| o.status == Status::Error) {
        problems.push(format!("{:?} could not be decided: {}", o.name, o.message));
    }
    for name in expected.difference(&actual) {
        problems.push(format!("{name:?} passed but should fail"));
    }
    for name in actual.difference(&expected) {
        let why = result
            .outcomes
            .iter()
            .find(|o| &o.name == name)
            .map(|o| o.message.clone())
            .unwrap_or_default();
        problems.push(format!("{name:?} failed but should pass: {why}"));
    }
    CaseResult {
        exercise: exercise.id.clone(),
        case: case.to_string(),
        mistake: expect.map(|e| e.mistake.clone()),
        ok: problems.is_empty(),
        expected_failures: expected.into_iter().collect(),
        actual_failures: actual.into_iter().collect(),
        problems,
        duration_seconds: result.duration.as_secs_f64(),
    }
}

/// Checks of `exercise` that no wrong case expects to fail.
pub fn uncovered(exercise: &Exercise, cases: &[CaseResult]) -> Vec<Uncovered> {
    let failed: BTreeSet<&String> = cases
        .iter()
        .filter(|c| c.case.starts_with("wrong/"))
        .flat_map(|c| c.expected_failures.iter())
        .collect();
    exercise
        .checks
        .iter()
        .filter(|c| !failed.contains(&c.name))
        .map(|c| Uncovered {
            exercise: exercise.id.clone(),
            check: c.name.clone(),
        })
        .collect()
}

/// Grades every case of every exercise; `progress` hears about each case.
pub async fn validate(
    engine: &Engine,
    exercises: &[Exercise],
    solutions: &Path,
    jobs: usize,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<ValidateReport, String> {
    let mut report = ValidateReport {
        schema: "dockgrade.validate/1",
        cases: Vec::new(),
        uncovered: Vec::new(),
        infrastructure_errors: 0,
    };
    for ex in exercises {
        let mut results = Vec::new();
        for (label, dir, expect) in cases(ex, solutions)? {
            progress(&format!("{} {label}", ex.id));
            // A live exercise grades what the student typed: replay it first,
            // and afterwards remove whatever it created.
            let before = match ex.mode {
                Mode::Live => Some(replay(engine, &dir, solutions).await?),
                Mode::Check => None,
            };
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
            let options = RunOptions {
                submission: dir,
                jobs,
            };
            let graded = runner::run(engine, std::slice::from_ref(ex), &options, &tx).await;
            drop(tx);
            let _ = drain.await;
            if let Some(before) = &before {
                let removed = engine.remove_since(before).await;
                for f in removed.failures {
                    tracing::warn!("could not remove what commands.sh created: {f}");
                }
            }
            let Some(result) = graded.first() else {
                continue;
            };
            report.infrastructure_errors += result.count(Status::Error);
            results.push(compare(ex, &label, expect.as_ref(), result));
        }
        report.uncovered.extend(uncovered(ex, &results));
        report.cases.extend(results);
    }
    Ok(report)
}

/// Runs `<dir>/commands.sh` with bash (the docker commands a student would
/// type, for a live exercise) and returns what the daemon held before.
async fn replay(
    engine: &Engine,
    dir: &Path,
    solutions: &Path,
) -> Result<crate::engine::Snapshot, String> {
    let script = dir.join("commands.sh");
    if !script.is_file() {
        return Err(format!(
            "{} is missing: a live exercise's cases are the commands a student types",
            script.display()
        ));
    }
    let before = engine.snapshot().await.map_err(|e| e.to_string())?;
    let root = fs::canonicalize(solutions)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let run = tokio::process::Command::new("bash")
        .arg("commands.sh")
        .current_dir(dir)
        .env("COURSE_ROOT", &root)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(std::process::Stdio::null())
        .output();
    match tokio::time::timeout(std::time::Duration::from_secs(600), run).await {
        Ok(Ok(out)) => {
            tracing::debug!(
                "{} exited {:?}\n{}{}",
                script.display(),
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            Ok(before)
        }
        Ok(Err(e)) => Err(format!("cannot run {}: {e}", script.display())),
        Err(_) => Err(format!(
            "{} did not finish within 10 minutes",
            script.display()
        )),
    }
}

/// The summary table for the terminal.
pub fn render_human(report: &ValidateReport, color: bool) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_string()
        }
    };
    let width = report
        .cases
        .iter()
        .map(|c| c.exercise.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let case_width = report
        .cases
        .iter()
        .map(|c| c.case.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!("{:<width$}  {:<case_width$}  RESULT\n", "EXERCISE", "CASE");
    for c in &report.cases {
        let result = if c.ok {
            if c.expected_failures.is_empty() {
                paint("32", "✓ passes every check")
            } else {
                paint(
                    "32",
                    &format!("✓ fails as expected: {}", c.expected_failures.join(", ")),
                )
            }
        } else {
            paint("31", &format!("✗ {}", c.problems.join("; ")))
        };
        out.push_str(&format!(
            "{:<width$}  {:<case_width$}  {result}\n",
            c.exercise, c.case
        ));
    }
    for u in &report.uncovered {
        out.push_str(&format!(
            "{:<width$}  {:<case_width$}  {}\n",
            u.exercise,
            "coverage",
            paint(
                "31",
                &format!(
                    "✗ no wrong case fails {:?}: a check that cannot fail",
                    u.check
                )
            )
        ));
    }
    let bad = report.cases.iter().filter(|c| !c.ok).count();
    out.push_str(&format!(
        "\n{} case(s): {} as expected, {bad} not; {} check(s) no wrong case fails\n",
        report.cases.len(),
        report.cases.len() - bad,
        report.uncovered.len()
    ));
    out
}

/// JUnit: a testsuite per exercise, a testcase per case and per uncovered check.
pub fn render_junit(report: &ValidateReport) -> std::io::Result<Vec<u8>> {
    use junit_report::{ReportBuilder, TestCase, TestSuiteBuilder};
    let mut builder = ReportBuilder::new();
    let mut exercises: Vec<&str> = report.cases.iter().map(|c| c.exercise.as_str()).collect();
    exercises.dedup();
    for ex in exercises {
        let mut suite = TestSuiteBuilder::new(ex);
        for c in report.cases.iter().filter(|c| c.exercise == ex) {
            let time = junit_report::Duration::milliseconds((c.duration_seconds * 1000.0) as i64);
            let case = if c.ok {
                TestCase::success(&c.case, time)
            } else {
                TestCase::failure(
                    &c.case,
                    time,
                    "mismatch",
                    &printable(&c.problems.join("\n")),
                )
            };
            suite.add_testcase(case);
        }
        for u in report.uncovered.iter().filter(|u| u.exercise == ex) {
            suite.add_testcase(TestCase::failure(
                &printable(&format!("coverage: {}", u.check)),
                junit_report::Duration::ZERO,
                "uncovered",
                "no wrong case fails this check",
            ));
        }
        builder.add_testsuite(suite.build());
    }
    let mut buf = Vec::new();
    builder
        .build()
        .write_xml(&mut buf)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(buf)
}
