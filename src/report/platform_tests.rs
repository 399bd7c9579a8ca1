//! The platforms' formats checked against their documented schemas (field
//! names, types, ranges), and hidden checks kept out of every format a
//! student sees.

use std::time::Duration;

use super::classroom::Classroom;
use super::gradescope::Gradescope;
use super::human::HumanReporter;
use super::junit::Junit;
use super::markdown::Markdown;
use super::prairielearn::{MAX_BYTES, PrairieLearn};
use super::*;
use crate::event::StepSummary;
use crate::observation::StepState;
use crate::spec::StepType;
use crate::spec::Visibility;

const SECRET_NAME: &str = "the grader's secret check";
const SECRET_MESSAGE: &str = "looked for /opt/answer-key";

fn outcome(name: &str, status: Status, points: u32, visibility: Visibility) -> Outcome {
    Outcome {
        name: name.into(),
        step: "image".into(),
        status,
        points: if status == Status::Passed { points } else { 0 },
        max_points: points,
        message: if visibility == Visibility::Visible {
            "it printed <script>alert(1)</script>\u{1b}[2J".into()
        } else {
            SECRET_MESSAGE.into()
        },
        expected: (status == Status::Failed).then(|| "exit code 0".into()),
        actual: (status == Status::Failed).then(|| {
            format!("exit code 1 ({SECRET_MESSAGE})").replace(
                SECRET_MESSAGE,
                if visibility == Visibility::Visible {
                    "<b>bold</b> | pipe"
                } else {
                    SECRET_MESSAGE
                },
            )
        }),
        hint: Some(if visibility == Visibility::Visible {
            "Set CMD.".into()
        } else {
            format!("{SECRET_NAME}: hint")
        }),
        visibility,
    }
}

fn events(outcomes: Vec<Outcome>) -> Vec<Event> {
    let step = StepSummary {
        name: "image".into(),
        kind: StepType::Build,
        duration: Duration::from_millis(1500),
        status: StepState::Done,
        message: None,
        image_id: None,
        size: None,
        layers: None,
        exit_code: None,
        context_bytes: None,
        stdout_dropped: None,
        stderr_dropped: None,
        sandbox: None,
        log: String::new(),
    };
    let result = ExerciseResult {
        id: "02-first-image".into(),
        title: "Build your first image".into(),
        section: None,
        points: outcomes.iter().map(|o| o.points).sum(),
        max_points: outcomes.iter().map(|o| o.max_points).sum(),
        duration: Duration::from_secs(2),
        steps: vec![step.clone()],
        outcomes: outcomes.clone(),
    };
    let mut events = vec![
        Event::RunStarted {
            run_id: "r1".into(),
            exercises: vec![],
        },
        Event::ExerciseStarted {
            id: result.id.clone(),
            title: result.title.clone(),
        },
        Event::StepFinished { step },
    ];
    events.extend(
        outcomes
            .into_iter()
            .map(|o| Event::CheckFinished { outcome: o }),
    );
    events.push(Event::ExerciseFinished { result });
    events.push(Event::RunFinished {
        duration: Duration::from_millis(2600),
        interrupted: None,
    });
    events
}

fn graded() -> Vec<Event> {
    events(vec![
        outcome(
            "Dockerfile.02 builds",
            Status::Passed,
            2,
            Visibility::Visible,
        ),
        outcome(
            "the container greets you",
            Status::Failed,
            3,
            Visibility::Visible,
        ),
        outcome(SECRET_NAME, Status::Failed, 4, Visibility::Hidden),
        outcome(
            "a later secret",
            Status::Passed,
            1,
            Visibility::AfterDueDate,
        ),
    ])
}

fn render(export: &dyn Export<Collector>, events: &[Event]) -> String {
    let mut c = Collector::default();
    for e in events {
        c.observe(e);
    }
    String::from_utf8(export.render(&c).expect("renders")).expect("utf-8")
}

fn human(events: &[Event]) -> String {
    let mut buf = Vec::new();
    {
        let mut r = HumanReporter::new(&mut buf, Style::new(false), false);
        for e in events {
            r.report(e).expect("writes");
        }
    }
    String::from_utf8(buf).expect("utf-8")
}

#[test]
fn gradescope_results_follow_its_schema_and_carry_visibility() {
    let json: serde_json::Value =
        serde_json::from_str(&render(&Gradescope, &graded())).expect("JSON");
    assert_eq!(json["score"], 3.0);
    assert!(json["execution_time"].is_u64());
    assert!(json["output"].is_string());
    let tests = json["tests"].as_array().expect("tests");
    assert_eq!(tests.len(), 4);
    for t in tests {
        for key in ["name", "number", "output", "visibility", "status"] {
            assert!(t[key].is_string(), "{key} in {t}");
        }
        assert!(t["score"].is_f64() && t["max_score"].is_f64(), "{t}");
        assert!(["passed", "failed"].contains(&t["status"].as_str().expect("status")));
        assert!(
            ["visible", "hidden", "after_due_date", "after_published"]
                .contains(&t["visibility"].as_str().expect("visibility"))
        );
    }
    assert_eq!(tests[2]["visibility"], "hidden");
    assert_eq!(tests[3]["visibility"], "after_due_date");
    assert_eq!(tests[1]["number"], "1.2");
    let sum: f64 = tests
        .iter()
        .map(|t| t["score"].as_f64().expect("score"))
        .sum();
    assert_eq!(sum, 3.0);
}

#[test]
fn prairielearn_results_follow_its_schema() {
    let json: serde_json::Value =
        serde_json::from_str(&render(&PrairieLearn, &graded())).expect("JSON");
    assert_eq!(json["gradable"], true);
    let score = json["score"].as_f64().expect("score");
    assert!((0.0..=1.0).contains(&score));
    assert!((score - 3.0 / 10.0).abs() < 1e-12);
    assert!(json["message"].is_string() && json["output"].is_string());
    for t in json["tests"].as_array().expect("tests") {
        for key in ["name", "description", "message", "output"] {
            assert!(t[key].is_string(), "{key} in {t}");
        }
        assert!(t["points"].is_u64() && t["max_points"].is_u64(), "{t}");
    }
}

#[test]
fn a_submission_without_its_files_is_not_gradable_on_prairielearn() {
    let missing = Outcome::synthetic(
        crate::runner::REQUIRED_FILES,
        Status::Failed,
        "Dockerfile.02 is missing".into(),
        None,
    );
    let json: serde_json::Value =
        serde_json::from_str(&render(&PrairieLearn, &events(vec![missing]))).expect("JSON");
    assert_eq!(json["gradable"], false);
    assert_eq!(json["format_errors"][0], "Dockerfile.02 is missing");
    assert_eq!(json["score"], 0.0);
}

#[test]
fn prairielearn_results_stay_under_a_megabyte() {
    let mut huge = outcome("prints a lot", Status::Failed, 1, Visibility::Visible);
    huge.actual = Some("x".repeat(600_000));
    let many = vec![huge; 5];
    let text = render(&PrairieLearn, &events(many));
    assert!(text.len() <= MAX_BYTES, "{} bytes", text.len());
    assert!(text.contains("cut to keep the results under 1 MB"));
    serde_json::from_str::<serde_json::Value>(&text).expect("still JSON");
}

#[test]
fn the_classroom_payload_decodes_and_its_scores_sum_to_the_points() {
    use base64::Engine as _;
    let line = render(&Classroom, &graded());
    let encoded = line
        .strip_prefix("result=")
        .and_then(|l| l.strip_suffix('\n'))
        .expect("result=…");
    let json: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("base64"),
    )
    .expect("JSON");
    assert_eq!(json["version"], 1);
    assert_eq!(json["status"], "fail");
    assert_eq!(json["max_score"], 10);
    let tests = json["tests"].as_array().expect("tests");
    let sum: u64 = tests
        .iter()
        .map(|t| t["score"].as_u64().expect("score"))
        .sum();
    assert_eq!(sum, 3);
    for t in tests {
        assert!(["pass", "fail", "error"].contains(&t["status"].as_str().expect("status")));
        assert!(t["name"].is_string() && t["message"].is_string());
        assert!(t["line_no"].is_u64() && t["execution_time"].is_string());
    }
    let text = json.to_string();
    assert!(
        !text.contains(SECRET_NAME) && !text.contains(SECRET_MESSAGE),
        "{text}"
    );
}

#[test]
fn hidden_checks_never_reach_a_format_students_see() {
    let graded = graded();
    let formats = [
        ("human", human(&graded)),
        ("junit", render(&Junit, &graded)),
        ("markdown", render(&Markdown, &graded)),
        ("prairielearn", render(&PrairieLearn, &graded)),
    ];
    for (format, text) in formats {
        for secret in [SECRET_NAME, SECRET_MESSAGE, "a later secret"] {
            assert!(!text.contains(secret), "{format} shows {secret:?}:\n{text}");
        }
        assert!(text.contains("hidden check 1"), "{format}:\n{text}");
    }
    // Instructors see everything.
    let json = render(&super::json::Json::default(), &graded);
    assert!(json.contains(SECRET_NAME) && json.contains(SECRET_MESSAGE));
}

#[test]
fn markdown_shows_the_table_and_keeps_submission_text_inert() {
    let md = render(&Markdown, &graded());
    assert!(md.starts_with("## dockgrade: 3/10 points\n"), "{md}");
    assert!(md.contains("| ✓ | Dockerfile.02 builds | 2/2 |"), "{md}");
    assert!(
        md.contains("| ✗ | the container greets you | 0/3 |"),
        "{md}"
    );
    assert!(md.contains("&lt;b&gt;bold&lt;/b&gt; \\| pipe"), "{md}");
    assert!(!md.contains("<b>") && !md.contains('\u{1b}'), "{md}");
}
