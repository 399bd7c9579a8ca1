//! `dockgrade doctor`: can this machine take the course?

use std::io::{self, IsTerminal};

use super::runtime;
use crate::catalog::{self, CourseDir, Found};
use crate::doctor;
use crate::error::Error;
use crate::exit;
use crate::prepare::read_dockerfiles;
use crate::report::Style;

pub(super) fn run(course: Result<CourseDir, Error>) -> Result<i32, Error> {
    // The course's exercises name more base images; without them the
    // standard ones are still checked.
    let loaded = course
        .as_ref()
        .map_err(|e| e.to_string())
        .and_then(|c| catalog::load_dir(&c.exercises).map_err(|e| e.to_string()));
    let exercises = loaded.as_ref().cloned().unwrap_or_default();
    let dockerfiles = course
        .as_ref()
        .map(|c| read_dockerfiles(&exercises, &c.starters()))
        .unwrap_or_default();
    let mut items = vec![course_item(course.as_ref().ok(), &loaded)];
    items.extend(runtime()?.block_on(doctor::diagnose(&exercises, &dockerfiles)));
    let style = Style::for_terminal(io::stdout().is_terminal());
    say_raw!("{}", doctor::render(&items, style));
    Ok(if items.iter().all(|i| i.ok) {
        exit::SUCCESS
    } else {
        exit::CHECK_FAILED
    })
}

/// Where the course was found, and whether its specs load.
fn course_item(
    course: Option<&CourseDir>,
    loaded: &Result<Vec<crate::spec::Exercise>, String>,
) -> doctor::Item {
    let Some(course) = course else {
        return doctor::Item {
            ok: false,
            what: "no course found".into(),
            fix: Some(
                "name the exercises folder with --exercises-dir DIR or DOCKGRADE_EXERCISES".into(),
            ),
        };
    };
    let how = match course.found {
        Found::Flag => "given with --exercises-dir",
        Found::Env => "from DOCKGRADE_EXERCISES",
        Found::Nearby => "found nearby",
        Found::Installed => "installed with dockgrade",
    };
    match loaded {
        Ok(exercises) => doctor::Item {
            ok: true,
            what: format!(
                "course: {} exercises in {} ({how})",
                exercises.len(),
                course.exercises.display()
            ),
            fix: None,
        },
        Err(e) => doctor::Item {
            ok: false,
            what: format!(
                "course: {} cannot be read ({how})",
                course.exercises.display()
            ),
            fix: Some(e.lines().next().unwrap_or_default().to_string()),
        },
    }
}
