//! The JUnit XML report: a testsuite per exercise, a testcase per check.
//!
//! Failure messages carry expected vs actual; step logs (capped) go to
//! `system-out`. Text from a submission can hold anything: it passes through
//! [`attribute`] (names and messages, which junit-report writes as escaped
//! attributes) or [`cdata`] (`system-out`, which it writes as CDATA) before
//! it reaches the XML, so it can neither break the file nor add elements.

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

/// Text for an attribute (quick-xml escapes markup there): what XML 1.0
/// cannot carry is removed or made visible.
pub(crate) fn attribute(text: &str) -> String {
    printable(text)
}

/// Text for an element's content, which junit-report writes as CDATA. A
/// CDATA section ends at the first `]]>`, so a submission that prints one
/// could close it and write its own `<testsuite>`; each `]]>` is split
/// across two sections instead (`]]` ends one, `>` starts the next), which
/// an XML reader joins back into the same text.
pub(crate) fn cdata(text: &str) -> String {
    printable(text).replace("]]>", "]]]]><![CDATA[>")
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
        let mut suite = TestSuiteBuilder::new(&attribute(&format!("{}: {}", r.id, r.title)));
        let mut hidden = 0;
        for o in &r.outcomes {
            // A JUnit file is shown to students by their CI: hidden checks
            // keep their result, not what they check.
            if !o.visibility.shown_to_students() {
                hidden += 1;
            }
            let o = super::for_students(o, hidden);
            let o = o.as_ref();
            // The time of the step the check looked at.
            let time = r
                .steps
                .iter()
                .find(|s| s.name == o.step)
                .map_or(std::time::Duration::ZERO, |s| s.duration);
            let name = attribute(&o.name);
            let detail = || {
                let mut text = match (&o.expected, &o.actual) {
                    (Some(e), Some(a)) => format!("expected: {e}\nactual: {a}"),
                    _ => o.message.clone(),
                };
                if let Some(h) = &o.hint {
                    text.push_str(&format!("\nhint: {h}"));
                }
                attribute(&text)
            };
            let mut case = match o.status {
                Status::Passed => TestCase::success(&name, duration(time)),
                Status::Failed => {
                    TestCase::failure(&name, duration(time), "check failed", &detail())
                }
                Status::Error => {
                    TestCase::error(&name, duration(time), "infrastructure", &cdata(&o.message))
                }
                Status::Skipped => {
                    TestCase::skipped_with_cause(&name, "not run", &cdata(&o.message))
                }
            };
            case.set_classname(&attribute(&r.id));
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
        suite.set_system_out(&cdata(tail(&logs, LOG_LIMIT)));
        report.add_testsuite(suite.build());
    }
    xml(report.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORGED: &str = "ok]]></system-out></testsuite><testsuite name=\"forged\"><testcase name=\"x\"/></testsuite><testsuite><system-out><![CDATA[";

    #[test]
    fn no_text_can_close_a_cdata_section_or_add_elements() {
        let mut case = TestCase::failure(
            "c",
            duration(std::time::Duration::ZERO),
            "t",
            &attribute(FORGED),
        );
        case.set_system_out(&cdata(FORGED));
        let mut suite = TestSuiteBuilder::new(&attribute("s\"><x>"));
        suite.add_testcase(case);
        suite.set_system_out(&cdata(FORGED));
        let mut report = ReportBuilder::new();
        report.add_testsuite(suite.build());
        let text = String::from_utf8(xml(report.build()).expect("writes")).expect("utf-8");
        let doc = roxmltree::Document::parse(&text).expect("well-formed");
        let named = |tag: &str| -> Vec<roxmltree::Node> {
            doc.descendants().filter(|n| n.has_tag_name(tag)).collect()
        };
        assert_eq!(named("testsuite").len(), 1, "{text}");
        assert_eq!(named("testsuite")[0].attribute("name"), Some("s\"><x>"));
        assert_eq!(named("testcase").len(), 1, "{text}");
        assert_eq!(named("failure")[0].attribute("message"), Some(FORGED));
        for out in named("system-out") {
            let joined: String = out.children().filter_map(|n| n.text()).collect();
            assert_eq!(joined, FORGED, "{text}");
        }
    }
}
