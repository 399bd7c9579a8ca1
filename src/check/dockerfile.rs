//! `dockerfile = { rules = … }`: the course's advice, checked on the text of
//! the Dockerfile the build sent (read, not built: the findings stand even
//! when the build fails). The rules themselves are `dockerfile::rules`'.

use super::{Assessed, Finding, Status, unavailable};
use crate::dockerfile_rules::{Rule, RuleContext, check_rules};
use crate::observation::StepObservation;

/// Findings named in a message; the rest are counted.
const SHOWN: usize = 5;

pub(super) fn rules(rules: &[Rule], non_root: bool, step: &StepObservation) -> Assessed {
    let Some(build) = &step.build else {
        return Err(unavailable(step));
    };
    let Some(text) = &build.dockerfile else {
        return Err((
            Status::Failed,
            "the Dockerfile could not be read from the build context".to_string(),
        ));
    };
    let ids: Vec<&str> = rules.iter().map(|r| r.id()).collect();
    let expected = format!("none of: {}", ids.join(", "));
    let cx = RuleContext {
        wants_non_root: non_root,
        has_dockerignore: build.dockerignore,
    };
    let findings = match check_rules(text, rules, &cx) {
        Ok(findings) => findings,
        Err(e) => {
            let actual = format!("the Dockerfile cannot be read: {}", e.message);
            return Ok(Finding::new(false, "Dockerfile", expected, actual));
        }
    };
    if findings.is_empty() {
        let actual = format!("none of the {} rules applies", rules.len());
        return Ok(Finding::new(true, "Dockerfile", expected, actual));
    }
    let mut said: Vec<String> = findings
        .iter()
        .take(SHOWN)
        .map(|f| format!("line {}: {} [{}]", f.line, f.message, f.rule.id()))
        .collect();
    if findings.len() > SHOWN {
        said.push(format!("and {} more", findings.len() - SHOWN));
    }
    Ok(Finding::new(false, "Dockerfile", expected, said.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::{BuildFacts, StepStatus};

    fn built(dockerfile: Option<&str>, succeeded: bool) -> StepObservation {
        let mut o = StepObservation::new(
            "image",
            if succeeded {
                StepStatus::Done
            } else {
                StepStatus::Failed("build failed".into())
            },
        );
        o.build = Some(BuildFacts {
            succeeded,
            dockerfile: dockerfile.map(str::to_string),
            ..Default::default()
        });
        o
    }

    #[test]
    fn a_purge_in_a_later_run_is_named_by_its_line_even_when_the_build_failed() {
        let text = "FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y git\nRUN apt-get purge -y git\n";
        let rules = [Rule::RemoveInLaterRun, Rule::UntaggedFrom];
        for succeeded in [true, false] {
            let f = super::rules(&rules, false, &built(Some(text), succeeded)).expect("decided");
            assert!(!f.ok);
            assert!(f.actual.starts_with("line 3: "), "{}", f.actual);
            assert!(f.actual.ends_with("[remove-in-later-run]"), "{}", f.actual);
            assert_eq!(f.expected, "none of: remove-in-later-run, untagged-from");
        }
        let clean = "FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y git && apt-get purge -y git\n";
        let f = super::rules(&rules, false, &built(Some(clean), true)).expect("decided");
        assert!(f.ok, "{}", f.actual);
    }

    #[test]
    fn an_unreadable_dockerfile_fails_the_check() {
        let err =
            super::rules(&[Rule::UntaggedFrom], false, &built(None, false)).expect_err("no text");
        assert_eq!(err.0, Status::Failed);
    }
}
