//! The course validation's reports: a table for the terminal, JUnit (a
//! testsuite per exercise, a testcase per case and per uncovered check) and
//! JSON (`dockgrade.validate/1`).

use std::io;

use junit_report::{ReportBuilder, TestCase, TestSuiteBuilder};

use super::json::pretty;
use super::junit::{attribute, duration, xml};
use super::{Export, Style, visible};
use crate::validate::ValidateReport;

/// The summary table for the terminal.
pub(crate) fn render_human(report: &ValidateReport, style: Style) -> String {
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
        let result = match (c.ok, c.expected_failures.is_empty()) {
            (true, true) => style.paint("32", "✓ passes every check"),
            (true, false) => style.paint(
                "32",
                &format!("✓ fails as expected: {}", c.expected_failures.join(", ")),
            ),
            (false, _) => style.paint("31", &format!("✗ {}", visible(&c.problems.join("; ")))),
        };
        out.push_str(&format!(
            "{:<width$}  {:<case_width$}  {result}\n",
            c.exercise, c.case
        ));
    }
    for u in &report.uncovered {
        let why = format!(
            "✗ no wrong case fails {:?}: a check that cannot fail",
            u.check
        );
        out.push_str(&format!(
            "{:<width$}  {:<case_width$}  {}\n",
            u.exercise,
            "coverage",
            style.paint("31", &why)
        ));
    }
    let bad = report.cases.iter().filter(|c| !c.ok).count();
    out.push_str(&format!(
        "\n{} case(s): {} as expected, {bad} not; {} check(s) no wrong case fails\n",
        report.cases.len(),
        report.cases.len() - bad,
        report.uncovered.len()
    ));
    if let Some(signal) = report.interrupted {
        out.push_str(&format!(
            "interrupted by {signal}: the cases not listed were not graded\n"
        ));
    }
    out
}

/// JUnit: a testsuite per exercise, a testcase per case and per uncovered check.
#[derive(Debug)]
pub(crate) struct ValidateJunit;

impl Export<ValidateReport> for ValidateJunit {
    fn render(&self, report: &ValidateReport) -> io::Result<Vec<u8>> {
        let mut builder = ReportBuilder::new();
        let mut exercises: Vec<&str> = report.cases.iter().map(|c| c.exercise.as_str()).collect();
        exercises.dedup();
        for ex in exercises {
            let mut suite = TestSuiteBuilder::new(&attribute(ex));
            for c in report.cases.iter().filter(|c| c.exercise == ex) {
                let time = duration(std::time::Duration::from_secs_f64(c.duration_seconds));
                let name = attribute(&c.case);
                let case = if c.ok {
                    TestCase::success(&name, time)
                } else {
                    TestCase::failure(&name, time, "mismatch", &attribute(&c.problems.join("\n")))
                };
                suite.add_testcase(case);
            }
            for u in report.uncovered.iter().filter(|u| u.exercise == ex) {
                suite.add_testcase(TestCase::failure(
                    &attribute(&format!("coverage: {}", u.check)),
                    junit_report::Duration::ZERO,
                    "uncovered",
                    "no wrong case fails this check",
                ));
            }
            builder.add_testsuite(suite.build());
        }
        xml(builder.build())
    }
}

/// `dockgrade.validate/1`.
#[derive(Debug)]
pub(crate) struct ValidateJson;

impl Export<ValidateReport> for ValidateJson {
    fn render(&self, report: &ValidateReport) -> io::Result<Vec<u8>> {
        pretty(report)
    }
}
