//! `--roster CSV`: the class list, so students who submitted nothing get a
//! row (`missing`, 0 points) and folders that match nobody are named.
//!
//! A header row names the columns. The identifier is the first column whose
//! header is one of the usual names (`id`, `student`, `student_id`, `login`,
//! `username`, `github`, `sid`, `sis user id`, `email`), else the first
//! column; `name`, `email` and `section` are taken when present.

use std::path::Path;

use super::student::Student;

/// Header names that hold the identifier, in order of preference.
const ID_HEADERS: [&str; 9] = [
    "id",
    "student",
    "student_id",
    "login",
    "username",
    "github",
    "sid",
    "sis user id",
    "email",
];

/// The students of a roster file, in its order.
pub(crate) fn read(path: &Path) -> Result<Vec<Student>, String> {
    let file = std::fs::File::open(path)
        .map_err(|e| format!("cannot read the roster {}: {e}", path.display()))?;
    parse(file).map_err(|e| format!("roster {}: {e}", path.display()))
}

/// A CSV export as spreadsheets and LMSs write it (a byte-order mark, ragged
/// rows, padded cells): the reader and its headers, lower-cased.
pub(crate) fn csv_with_headers<R: std::io::Read>(
    input: R,
) -> Result<(csv::Reader<R>, Vec<String>), String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    Ok((reader, headers))
}

fn parse(input: impl std::io::Read) -> Result<Vec<Student>, String> {
    let (mut reader, headers) = csv_with_headers(input)?;
    let column = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| headers.iter().position(|h| h == n))
    };
    let id = column(&ID_HEADERS).unwrap_or(0);
    let name = column(&["name", "full name", "student name"]);
    let email = column(&["email", "e-mail"]);
    let section = column(&["section"]);
    let mut students = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("row {}: {e}", i + 2))?;
        let get = |c: Option<usize>| {
            c.and_then(|c| record.get(c))
                .map(str::to_string)
                .filter(|v| !v.is_empty())
        };
        let Some(student_id) = get(Some(id)) else {
            continue;
        };
        students.push(Student {
            id: student_id,
            name: get(name),
            email: get(email).filter(|_| email != Some(id)),
            section: get(section),
        });
    }
    Ok(students)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identifier_column_is_found_by_its_header() {
        let text =
            "\u{feff}Name,GitHub,Email,Section\nAnn Lee,annlee,ann@x.org,A\n,,,\nBo,bo-2,,B\n";
        let students = parse(text.as_bytes()).expect("parses");
        assert_eq!(
            students,
            vec![
                Student {
                    id: "annlee".into(),
                    name: Some("Ann Lee".into()),
                    email: Some("ann@x.org".into()),
                    section: Some("A".into())
                },
                Student {
                    id: "bo-2".into(),
                    name: Some("Bo".into()),
                    email: None,
                    section: Some("B".into())
                },
            ]
        );
    }

    #[test]
    fn without_a_known_header_the_first_column_is_the_id() {
        let students = parse("who,team\nann,1\n".as_bytes()).expect("parses");
        assert_eq!(students[0].id, "ann");
    }
}
