//! The JUnit XML report: a testsuite per exercise, a testcase per check.
//!
//! Failure messages carry expected vs actual; step logs (capped) go to
//! `system-out`. All text passes through [`printable`] first, because a
//! container's output may hold bytes that XML 1.0 cannot represent.

use std::io;

use junit_report::{Report, ReportBuilder, TestCase, TestSuiteBuilder};

use super::{Collector, Export, printable, tail};
use crate::check::Status;

/// Most bytes of step logs kept per testsuite.
const LOG_LIMIT: usize = 16 * 1024;

/// A testsuite per exercise, a testcase per check.
#[derive(Debug)]
pub(crate) struct Junit;

pub(crate) fn duration(d: std::time::Duration) -> junit_report::Duration {
    junit_report::Duration::milliseconds(d.as_millis().min(i64::MAX as u128) as i64)
}

/// The XML of a built report.
pub(crate) fn xml(report: Report) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    report
        .write_xml(&mut buf)
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(buf)
}

impl Export<Collector> for Junit {
    fn render(&self, collector: &Collector) -> io::Result<Vec<u8>> {
        render(collector)
    }
}

fn render(collector: &Collector) -> io::Result<Vec<u8>> {
    let mut report = ReportBuilder::new();
    for r in collector.results() {
        let mut suite = TestSuiteBuilder::new(&printable(&format!("{}: {}", r.id, r.title)));
        for o in &r.outcomes {
            let name = printable(&o.name);
            let detail = || {
                let mut text = printable(&o.message);
                if let (Some(e), Some(a)) = (&o.expected, &o.actual) {
                    text = printable(&format!("expected: {e}\nactual: {a}"));
                }
                if let Some(h) = &o.hint {
                    text.push_str(&printable(&format!("\nhint: {h}")));
                }
                text
            };
            let mut case = match o.status {
                Status::Passed => TestCase::success(&name, duration(std::time::Duration::ZERO)),
                Status::Failed => TestCase::failure(
                    &name,
                    duration(std::time::Duration::ZERO),
                    "check failed",
                    &detail(),
                ),
                Status::Error => TestCase::error(
                    &name,
                    duration(std::time::Duration::ZERO),
                    "infrastructure",
                    &printable(&o.message),
                ),
                Status::Skipped => {
                    TestCase::skipped_with_cause(&name, "not run", &printable(&o.message))
                }
            };
            case.set_classname(&printable(&r.id));
            case.set_system_out(&format!("{} / {} points", o.points, o.max_points));
            suite.add_testcase(case);
        }
        let mut logs = String::new();
        for s in &r.steps {
            logs.push_str(&format!(
                "== step {} ({}): {}\n",
                s.name,
                s.kind,
                s.status.as_str()
            ));
            if let Some(m) = &s.message {
                logs.push_str(m);
                logs.push('\n');
            }
            if !s.log.is_empty() {
                logs.push_str(s.log.trim_end());
                logs.push('\n');
            }
        }
        suite.set_system_out(&printable(tail(&logs, LOG_LIMIT)));
        report.add_testsuite(suite.build());
    }
    xml(report.build())
}
