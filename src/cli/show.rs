//! `dockgrade show ID`: the task as a student reads it: title, section,
//! description (Markdown, rendered on a terminal, as written when piped),
//! what to submit and what dockgrade adds, the checks with their points
//! (hidden ones counted, not named), and the commands that come next.

use std::io::{self, IsTerminal, Write};

use clap::Args;

use super::Course;
use crate::catalog::{self, CourseDir};
use crate::error::Error;
use crate::exit;
use crate::report::Style;
use crate::spec::{Exercise, FixtureContent, Mode};
use crate::units::format_size;

#[derive(Debug, Args)]
pub(super) struct ShowArgs {
    /// The exercise's id (see `dockgrade list`).
    id: String,
    #[command(flatten)]
    course: Course,
}

pub(super) fn run(args: ShowArgs) -> Result<i32, Error> {
    let course = args.course.locate()?;
    let all = catalog::load_dir(&course.exercises)?;
    let exercise =
        catalog::select(all, std::slice::from_ref(&args.id), &course.exercises)?.remove(0);
    let terminal = io::stdout().is_terminal();
    let style = Style::for_terminal(terminal);
    let text = render(&exercise, &Given::of(&exercise, &course), style, |md| {
        if style.is_colored() {
            termimad::MadSkin::default().term_text(md).to_string()
        } else {
            md.to_string()
        }
    });
    let _ = io::stdout().lock().write_all(text.as_bytes());
    Ok(exit::SUCCESS)
}

/// What the course hands the student for an exercise, found on disk.
#[derive(Debug, Default)]
pub(super) struct Given {
    /// Required files that have a starter in the course's `Dockerfiles/`.
    pub starters: Vec<String>,
    /// The top-level entries of the exercise's own files (`exercises/<id>/`).
    pub files: Vec<String>,
}

impl Given {
    pub fn of(exercise: &Exercise, course: &CourseDir) -> Given {
        let starters = course.starters();
        let mut files: Vec<String> = exercise
            .files
            .as_deref()
            .and_then(|d| std::fs::read_dir(d).ok())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                if e.path().is_dir() {
                    format!("{name}/")
                } else {
                    name
                }
            })
            .collect();
        files.sort();
        Given {
            starters: exercise
                .required
                .iter()
                .map(|r| r.as_str().to_string())
                .filter(|r| starters.join(r).is_file())
                .collect(),
            files,
        }
    }
}

/// The task as text; `markdown` renders the description.
pub(super) fn render(
    ex: &Exercise,
    given: &Given,
    style: Style,
    markdown: impl Fn(&str) -> String,
) -> String {
    let mut out = String::new();
    let section = ex
        .section
        .as_deref()
        .map(|s| format!("section {s}, "))
        .unwrap_or_default();
    out.push_str(&format!(
        "{}  {}  ({section}{} points)\n",
        style.paint("1", &ex.id),
        style.paint("1", &ex.title),
        ex.max_points()
    ));
    if !ex.description.trim().is_empty() {
        out.push('\n');
        out.push_str(markdown(ex.description.trim()).trim_end());
        out.push('\n');
    }
    heading(&mut out, style, "What to submit");
    if ex.mode == Mode::Live {
        out.push_str(
            "  Nothing: dockgrade looks at the images and containers on your own Docker.\n",
        );
    } else if ex.required.is_empty() {
        out.push_str("  The files the task asks for, in your folder.\n");
    }
    for file in &ex.required {
        let starter = if given.starters.iter().any(|s| s == file.as_str()) {
            format!("  (starter: dockgrade init {})", ex.id)
        } else {
            String::new()
        };
        out.push_str(&format!("  {}{starter}\n", file.as_str()));
    }
    if !given.files.is_empty() || !ex.fixtures.is_empty() {
        heading(
            &mut out,
            style,
            "dockgrade adds these next to your files when it grades",
        );
        for f in &given.files {
            out.push_str(&format!("  {f}\n"));
        }
        for f in &ex.fixtures {
            let what = match &f.content {
                FixtureContent::Random(n) => format!("{} of random data", format_size(*n)),
                FixtureContent::Zeros(n) => format!("{} of zeros", format_size(*n)),
                FixtureContent::Text(t) => format!("{} of text", format_size(t.len() as u64)),
            };
            out.push_str(&format!("  {}  ({what})\n", f.path.as_str()));
        }
    }
    checks(&mut out, ex, style);
    heading(&mut out, style, "Next");
    if ex.mode == Mode::Live {
        out.push_str(&format!(
            "  Run the commands above on your own Docker, then:\n  dockgrade check {}\n",
            ex.id
        ));
    } else {
        let id = &ex.id;
        let init = format!("dockgrade init {id}");
        let check = format!("cd {id} && dockgrade check {id}");
        let w = check.len().max(init.len());
        out.push_str(&format!(
            "  {init:<w$}  # a folder {id}/ with what you start from\n  \
             {check:<w$}  # grade it, as often as you like\n"
        ));
    }
    out
}

fn heading(out: &mut String, style: Style, title: &str) {
    out.push('\n');
    out.push_str(&style.paint("1", title));
    out.push('\n');
}

/// The checks with their points; hidden ones only counted.
fn checks(out: &mut String, ex: &Exercise, style: Style) {
    heading(out, style, &format!("Checks ({} points)", ex.max_points()));
    let width = ex
        .checks
        .iter()
        .map(|c| c.points.to_string().len())
        .max()
        .unwrap_or(1);
    for c in ex
        .checks
        .iter()
        .filter(|c| c.visibility.shown_to_students())
    {
        out.push_str(&format!("  {:>width$}  {}\n", c.points, c.name));
    }
    let hidden: Vec<_> = ex
        .checks
        .iter()
        .filter(|c| !c.visibility.shown_to_students())
        .collect();
    if !hidden.is_empty() {
        let points: u32 = hidden.iter().map(|c| c.points).sum();
        out.push_str(&format!(
            "  and {} hidden check{} worth {points} point{}, shown once grading is over\n",
            hidden.len(),
            if hidden.len() == 1 { "" } else { "s" },
            if points == 1 { "" } else { "s" },
        ));
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::catalog::Found;

    fn course() -> CourseDir {
        CourseDir {
            exercises: Path::new(env!("CARGO_MANIFEST_DIR")).join("exercises"),
            found: Found::Flag,
        }
    }

    fn shown(id: &str) -> String {
        let course = course();
        let ex = catalog::select(
            catalog::load_dir(&course.exercises).expect("the course loads"),
            &[id.to_string()],
            &course.exercises,
        )
        .expect("known")
        .remove(0);
        render(
            &ex,
            &Given::of(&ex, &course),
            Style::new(false),
            str::to_string,
        )
    }

    #[test]
    fn show_03_multistage() {
        insta::assert_snapshot!(shown("03-multistage"));
    }

    #[test]
    fn every_exercise_shows_its_task_checks_and_next_command() {
        let course = course();
        for ex in catalog::load_dir(&course.exercises).expect("the course loads") {
            let text = shown(&ex.id);
            assert!(text.starts_with(&ex.id), "{text}");
            assert!(text.contains(&ex.title), "{text}");
            assert!(
                text.contains(&format!("dockgrade check {}", ex.id)),
                "{text}"
            );
            for c in &ex.checks {
                assert!(text.contains(&c.name), "{}: {} missing", ex.id, c.name);
            }
            for r in &ex.required {
                assert!(text.contains(r.as_str()), "{text}");
            }
        }
    }

    #[test]
    fn hidden_checks_are_counted_not_named() {
        let text = "id = \"h\"\ntitle = \"H\"\n[[steps]]\nname = \"i\"\nimage = \"a:1\"\n\
                    [[checks]]\nname = \"seen\"\nstep = \"i\"\nlayers = { max = 1 }\n\
                    [[checks]]\nname = \"secret sauce\"\nstep = \"i\"\npoints = 4\nvisibility = \"hidden\"\nlayers = { max = 2 }\n";
        let ex = crate::spec::parse_exercise("h.toml", text).expect("parses");
        let shown = render(&ex, &Given::default(), Style::new(false), str::to_string);
        assert!(shown.contains("seen"), "{shown}");
        assert!(!shown.contains("secret sauce"), "{shown}");
        assert!(
            shown.contains("and 1 hidden check worth 4 points"),
            "{shown}"
        );
        assert!(shown.contains("(5 points)"), "{shown}");
    }
}
