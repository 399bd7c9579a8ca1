//! Assertions about a run: exit code, and what it printed.

use super::{Assessed, Finding, excerpt};
use crate::observation::RunFacts;
use crate::spec::{ExitExpectation, TextMatcher};
use crate::units::format_size;

/// `exit_code`: is, is not, or is one of.
pub(super) fn exit_code(want: &ExitExpectation, run: &RunFacts) -> Assessed {
    let Some(code) = run.exit_code else {
        return Err((
            super::Status::Error,
            "the container's exit code is unknown".into(),
        ));
    };
    let (ok, expected) = match want {
        ExitExpectation::Is(n) => (code == *n, format!("exit code {n}")),
        ExitExpectation::Not(n) => (code != *n, format!("an exit code other than {n}")),
        ExitExpectation::In(list) => (
            list.contains(&code),
            format!(
                "an exit code in [{}]",
                list.iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    };
    let mut actual = format!("exit code {code}");
    if run.oom_killed {
        actual.push_str(" (killed: out of memory)");
    }
    if let Some(why) = &run.start_error {
        actual.push_str(&format!(" (the command could not start: {why})"));
    } else if matches!(code, 126 | 127)
        && let Some(said) = run.stderr.lines().find(|l| !l.trim().is_empty())
    {
        // A shell that could not find or run the command says which.
        actual.push_str(&format!(" ({})", excerpt(said.trim())));
    }
    Ok(Finding::new(ok, "exit code", expected, actual))
}

/// Applies a text matcher; returns (ok, expected, actual).
pub(super) fn text_match(m: &TextMatcher, text: &str) -> (bool, String, String) {
    let mut ok = true;
    let mut expected = Vec::new();
    if let Some(e) = &m.equals {
        ok &= text.trim_end() == e.trim_end();
        expected.push(format!("exactly {:?}", e.trim_end()));
    }
    if let Some(c) = &m.contains {
        ok &= text.contains(c.as_str());
        expected.push(format!("to contain {c:?}"));
    }
    if let Some(c) = &m.not_contains {
        ok &= !text.contains(c.as_str());
        expected.push(format!("not to contain {c:?}"));
    }
    if let Some(re) = &m.matches {
        ok &= re.is_match(text);
        expected.push(format!("to match /{}/", re.as_str()));
    }
    if let Some(re) = &m.not_matches {
        ok &= !re.is_match(text);
        expected.push(format!("not to match /{}/", re.as_str()));
    }
    (ok, expected.join(" and "), excerpt(text))
}

/// `stdout` or `stderr` (`name`) of a run matches.
pub(super) fn stream(m: &TextMatcher, name: &str, text: &str, run: &RunFacts) -> Assessed {
    let (ok, expected, mut actual) = text_match(m, text);
    let dropped = if name == "stdout" {
        run.stdout_dropped
    } else {
        run.stderr_dropped
    };
    if dropped > 0 {
        actual.push_str(&format!(" ({} more not kept)", format_size(dropped)));
    }
    // "nothing" alone would hide why; the reason itself is given once, with
    // the exit code.
    if run.start_error.is_some() {
        actual.push_str(" (the command never started)");
    }
    Ok(Finding::new(ok, name, expected, actual))
}
