//! The `[[checks]]` of an exercise, and which assertion fits which step.
//!
//! Checks are read against the steps that parsed, so a broken step does not
//! hide the mistakes in the checks below it; each assertion's own grammar is
//! in [`super::assertions`].

use std::collections::BTreeSet;

use super::reader::{Diagnostics, Entry, Table, required_string, table_array};
use super::{assertions, forensics, requests};
use crate::spec::{
    Assertion, AssertionKind, BuildExpectation, Check, Step, StepKind, StepType, Visibility,
};

/// Every check, or `None` when any of them has an error.
pub(super) fn checks(
    diag: &mut Diagnostics,
    root: &Table,
    steps: &[Step],
    declared: &BTreeSet<String>,
) -> Option<Vec<Check>> {
    let tables = table_array(diag, root, "checks")?;
    let before = diag.count();
    let mut out = Vec::new();
    for t in &tables {
        let mut allowed = vec!["name", "step", "points", "hint", "visibility"];
        allowed.extend(AssertionKind::ALL.map(AssertionKind::key));
        t.only(diag, &allowed);
        let name = required_string(diag, t, "name");
        let step = checked_step(diag, t, steps, declared);
        let points = points(diag, t);
        let hint = t.entry("hint").and_then(|f| f.string(diag));
        let visibility = match t.entry("visibility") {
            Some(f) => f.one_of(
                diag,
                &[
                    ("visible", Visibility::Visible),
                    ("hidden", Visibility::Hidden),
                    ("after_due_date", Visibility::AfterDueDate),
                ],
            ),
            None => Some(Visibility::Visible),
        };
        let mut assertions = Vec::new();
        for kind in AssertionKind::ALL {
            let Some(f) = t.entry(kind.key()) else {
                continue;
            };
            let Some(step) = step else { continue };
            if let Some(a) = assertion(diag, &f, kind, step, steps) {
                assertions.push(a);
            }
        }
        if !AssertionKind::ALL.iter().any(|k| t.has(k.key())) {
            let keys: Vec<&str> = AssertionKind::ALL.map(AssertionKind::key).to_vec();
            diag.error(
                t.span.clone(),
                &t.path,
                format!("a check needs at least one assertion: {}", keys.join(", ")),
            );
        }
        if let Some(step) = step {
            warn_about_entrypoint(diag, t, step, &assertions);
        }
        if let (Some(name), Some(step), Some(points), Some(visibility)) =
            (name, step, points, visibility)
        {
            out.push(Check {
                visibility,
                name,
                step: step.name.clone(),
                points,
                hint,
                assertions,
            });
        }
    }
    (diag.count() == before).then_some(out)
}

/// A check on what a command did, run through the image's ENTRYPOINT,
/// hears the ENTRYPOINT: a script of the student's that can answer
/// anything. Allowed (an exercise may be about the ENTRYPOINT), but said.
fn warn_about_entrypoint(diag: &mut Diagnostics, t: &Table, step: &Step, assertions: &[Assertion]) {
    let StepKind::Run(run) = &step.kind else {
        return;
    };
    let hears_the_command = assertions.iter().any(|a| {
        matches!(
            a,
            Assertion::ExitCode(_) | Assertion::Stdout(_) | Assertion::Stderr(_)
        )
    });
    if run.keep_entrypoint && run.cmd.is_some() && hears_the_command {
        diag.warn(
            t.span.clone(),
            &t.path,
            format!(
                "step `{}` keeps the image's ENTRYPOINT: this check hears the ENTRYPOINT, which the submission controls, not `cmd` alone",
                step.name
            ),
        );
    }
}

/// `step`: the step the check looks at, which must exist.
fn checked_step<'s>(
    diag: &mut Diagnostics,
    t: &Table,
    steps: &'s [Step],
    declared: &BTreeSet<String>,
) -> Option<&'s Step> {
    let Some(f) = t.entry("step") else {
        t.missing(diag, "step");
        return None;
    };
    let name = f.string(diag)?;
    let found = steps.iter().find(|st| st.name == name);
    // A step with errors of its own is missing from `steps` and has been
    // reported already.
    if found.is_none() && !declared.contains(&name) {
        f.invalid(diag, format!("no step named {name:?}"));
    }
    found
}

/// `points`: 1 unless given.
fn points(diag: &mut Diagnostics, t: &Table) -> Option<u32> {
    let Some(f) = t.entry("points") else {
        return Some(1);
    };
    let p = f.unsigned(diag)?;
    match u32::try_from(p) {
        Ok(p) => Some(p),
        Err(_) => {
            f.invalid(diag, "too many points");
            None
        }
    }
}

/// Which step kinds an assertion makes sense on, and what to say otherwise.
fn applies(kind: AssertionKind, step: StepType) -> Result<(), &'static str> {
    use AssertionKind as A;
    match (kind, step) {
        (A::Daemon, _) => Ok(()),
        (A::Disk, StepType::Container) => Err("measures a service; a live exercise has none"),
        (A::Http | A::Disk, _) => Ok(()),
        (A::Container, StepType::Container) => Ok(()),
        (A::Container, _) => Err("applies to container steps only"),
        (_, StepType::Container) => {
            Err("does not apply to container steps; use `container = { … }`")
        }
        (A::Build | A::Context | A::Dockerfile, StepType::Build) => Ok(()),
        (A::Build | A::Context | A::Dockerfile, _) => Err("applies to build steps only"),
        (A::ExitCode | A::Stdout | A::Stderr, StepType::Run | StepType::Exec) => Ok(()),
        (A::ExitCode | A::Stdout | A::Stderr, _) => Err("applies to run and exec steps only"),
        (_, StepType::Service | StepType::Push | StepType::Exec) => {
            Err("checks an image; it applies to build and image steps")
        }
        (A::User, _) => Ok(()),
        (_, StepType::Run) => {
            Err("checks an image; it applies to build and image steps, not run steps")
        }
        _ => Ok(()),
    }
}

fn assertion(
    diag: &mut Diagnostics,
    f: &Entry,
    kind: AssertionKind,
    step: &Step,
    steps: &[Step],
) -> Option<Assertion> {
    let step_type = step.kind.step_type();
    if let Err(why) = applies(kind, step_type) {
        let article = if step_type == StepType::Image {
            "an"
        } else {
            "a"
        };
        f.invalid(
            diag,
            format!(
                "`{}` {why}; step `{}` is {article} {step_type} step",
                kind.key(),
                step.name
            ),
        );
        return None;
    }
    match kind {
        AssertionKind::Build => f
            .one_of(
                diag,
                &[
                    ("succeeds", BuildExpectation::Succeeds),
                    ("fails", BuildExpectation::Fails),
                ],
            )
            .map(Assertion::Build),
        AssertionKind::Size => assertions::size_bounds(diag, f, steps).map(Assertion::Size),
        AssertionKind::Layers => assertions::layers(diag, f, steps),
        AssertionKind::Files => assertions::files(diag, f),
        AssertionKind::File => assertions::file(diag, f),
        AssertionKind::Config => assertions::config(diag, f).map(Assertion::Config),
        AssertionKind::User => assertions::user(diag, f),
        AssertionKind::Context => assertions::context(diag, f),
        AssertionKind::Wasted => forensics::wasted(diag, f),
        AssertionKind::Efficiency => forensics::efficiency(diag, f),
        AssertionKind::Dockerfile => forensics::dockerfile_rules(diag, f),
        AssertionKind::Secrets => f.one_of(diag, &[("none", ())]).map(|()| Assertion::Secrets),
        AssertionKind::ExitCode => assertions::exit_code(diag, f).map(Assertion::ExitCode),
        AssertionKind::Container => assertions::container(diag, f).map(Assertion::Container),
        AssertionKind::Stdout => assertions::stream(diag, f).map(Assertion::Stdout),
        AssertionKind::Stderr => assertions::stream(diag, f).map(Assertion::Stderr),
        AssertionKind::Http => requests::http(diag, f, step, steps),
        AssertionKind::Disk => requests::disk(diag, f, step, steps),
        AssertionKind::Daemon => assertions::daemon(diag, f),
    }
}
