//! A Markdown summary a student reads: the score, a table of the checks
//! with ✓/✗, and under it what was expected and seen and the hint for each
//! check that did not pass. For `$GITHUB_STEP_SUMMARY` (which `check`
//! appends it to when that variable is set) and pull-request comments.
//! Every submission-controlled string is escaped for Markdown and HTML and
//! kept on one line; hidden checks are shown as their result only.

use std::io;

use super::{Collector, Export, Totals, for_students, printable};
use crate::check::{Outcome, Status};

/// The Markdown summary.
#[derive(Debug, Default)]
pub(crate) struct Markdown;

/// Text made inert in Markdown and in the HTML it becomes: markup
/// characters escaped, control characters and line breaks gone, bounded.
pub(crate) fn inert(text: &str) -> String {
    const LIMIT: usize = 500;
    let text = printable(text).replace(['\n', '\r'], " ");
    let mut out = String::with_capacity(text.len());
    for c in text.chars().take(LIMIT) {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '!' | '~' | '{' | '}' | '(' | ')'
            | '$' => {
                out.push('\\');
                out.push(c);
            }
            // `@name` would notify someone on GitHub: a zero-width space
            // keeps the text and drops the mention.
            '@' => out.push_str("@\u{200b}"),
            c => out.push(c),
        }
    }
    if text.chars().count() > LIMIT {
        out.push('…');
    }
    out
}

fn mark(o: &Outcome) -> &'static str {
    match o.status {
        Status::Passed => "✓",
        Status::Failed => "✗",
        Status::Error => "!",
        Status::Skipped => "–",
    }
}

impl Export<Collector> for Markdown {
    fn render(&self, collector: &Collector) -> io::Result<Vec<u8>> {
        let results = collector.results();
        let totals = Totals::of(&results);
        let mut md = format!(
            "## dockgrade: {}/{} points\n\n{} of {} checks passed",
            totals.points, totals.max_points, totals.passed, totals.checks
        );
        if let Some(signal) = collector.interrupted {
            md.push_str(&format!(" (interrupted by {signal})"));
        }
        md.push_str("\n\n");
        for r in &results {
            md.push_str(&format!(
                "### {} {} ({}/{} points)\n\n| | check | points |\n|---|---|---|\n",
                inert(&r.id),
                inert(&r.title),
                r.points,
                r.max_points
            ));
            let mut hidden = 0;
            let mut details = String::new();
            for o in &r.outcomes {
                if !o.visibility.shown_to_students() {
                    hidden += 1;
                }
                let o = for_students(o, hidden);
                md.push_str(&format!(
                    "| {} | {} | {}/{} |\n",
                    mark(&o),
                    inert(&o.name),
                    o.points,
                    o.max_points
                ));
                if o.status != Status::Passed && o.visibility.shown_to_students() {
                    details.push_str(&format!("- **{}**", inert(&o.name)));
                    match (&o.expected, &o.actual) {
                        (Some(e), Some(a)) => details.push_str(&format!(
                            "\n  - expected: {}\n  - actual: {}",
                            inert(e),
                            inert(a)
                        )),
                        _ => details.push_str(&format!(": {}", inert(&o.message))),
                    }
                    if let Some(h) = &o.hint {
                        details.push_str(&format!("\n  - hint: {}", inert(h)));
                    }
                    details.push('\n');
                }
            }
            if !details.is_empty() {
                md.push_str(&format!("\n{details}"));
            }
            md.push('\n');
        }
        Ok(md.into_bytes())
    }
}
