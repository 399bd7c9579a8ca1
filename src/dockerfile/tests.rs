//! The reader, the substitution and the remote sources, each case checked
//! against what moby 20.10's code does (several also against a real
//! `DOCKER_BUILDKIT=0 docker build` on Docker 20.10.24, noted as such), the
//! course's own Dockerfiles, and hostile ones.

use std::collections::{BTreeMap, HashMap};

use super::eval::{Base, CopyFrom, Evaluation, RemoteSource, TooMuchWork, evaluate};
use super::json::{JsonArray, parse_json_array};
use super::lex::{Budget, LexError, Vars, expand};
use super::*;

fn parse(text: &str) -> Dockerfile {
    match Dockerfile::parse(text) {
        Ok(d) => d,
        Err(e) => panic!("{text:?} does not parse: {e}"),
    }
}

fn parse_error(text: &str) -> ParseError {
    match Dockerfile::parse(text) {
        Ok(d) => panic!("{text:?} parses: {d:?}"),
        Err(e) => e,
    }
}

fn only(text: &str) -> Instruction {
    let mut d = parse(text);
    assert_eq!(d.instructions.len(), 1, "{:?}", d.instructions);
    d.instructions.remove(0)
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn no_args() -> BTreeMap<String, String> {
    BTreeMap::new()
}

fn remote(text: &str) -> Vec<RemoteSource> {
    remote_with(text, &no_args())
}

fn remote_with(text: &str, build_args: &BTreeMap<String, String>) -> Vec<RemoteSource> {
    remote_sources(&parse(text), build_args).expect("within the work budget")
}

/// (line, kind) of each remote source.
fn remote_kinds(text: &str) -> Vec<(usize, RemoteKind)> {
    remote(text).into_iter().map(|r| (r.line, r.kind)).collect()
}

fn url(s: &str) -> RemoteKind {
    RemoteKind::Url(s.into())
}

fn image(s: &str) -> RemoteKind {
    RemoteKind::Image(s.into())
}

// ---- reading lines --------------------------------------------------------

#[test]
fn instructions_keep_the_line_they_start_and_end_on() {
    let d = parse("# a comment\n\nFROM busybox:1.35\nRUN a \\\n  b \\\n  c\n\nCMD x\n");
    let spans: Vec<_> = d
        .instructions
        .iter()
        .map(|i| (i.keyword.as_str().to_string(), i.line, i.end_line))
        .collect();
    assert_eq!(
        spans,
        [
            ("FROM".into(), 3, 3),
            ("RUN".into(), 4, 6),
            ("CMD".into(), 8, 8)
        ]
    );
    // Continuation lines keep their indentation (verified with a real build).
    assert_eq!(
        d.instructions[1].arguments,
        Arguments::Text("a   b   c".into())
    );
}

#[test]
fn comments_and_blank_lines_inside_a_continuation_are_skipped() {
    let i = only("RUN apt-get update \\\n# why\n    # indented comment\n\n   \n && true\n");
    assert_eq!(
        i.arguments,
        Arguments::Text("apt-get update  && true".into())
    );
    assert_eq!((i.line, i.end_line), (1, 6));
}

#[test]
fn an_escaped_escape_does_not_continue_the_line() {
    let d = parse("RUN echo a\\\\\nRUN echo b\n");
    assert_eq!(d.instructions.len(), 2);
    assert_eq!(
        d.instructions[0].arguments,
        Arguments::Text("echo a\\\\".into())
    );
}

#[test]
fn a_continuation_at_the_end_of_the_file_ends_the_instruction() {
    let i = only("RUN a \\");
    assert_eq!(i.arguments, Arguments::Text("a".into()));
}

#[test]
fn trailing_spaces_after_the_continuation_escape_are_allowed() {
    let i = only("RUN a \\  \t\n b\n");
    assert_eq!(i.arguments, Arguments::Text("a  b".into()));
}

#[test]
fn crlf_line_ends_are_read_like_lf() {
    let d = parse("FROM busybox:1.35\r\nRUN a \\\r\n b\r\n");
    assert_eq!(d.instructions[1].arguments, Arguments::Text("a  b".into()));
    assert_eq!(d.instructions[0].words(), words(&["busybox:1.35"]));
}

#[test]
fn a_byte_order_mark_on_the_first_line_is_dropped() {
    let d = parse("\u{feff}FROM busybox:1.35\n");
    assert_eq!(d.instructions[0].keyword, Keyword::From);
}

#[test]
fn the_escape_directive_changes_the_continuation_character() {
    let d = parse("# escape=`\nFROM busybox:1.35\nRUN dir c:\\ `\n  && echo `\n  done\n");
    assert_eq!(d.escape, '`');
    assert_eq!(
        d.instructions[1].arguments,
        Arguments::Text("dir c:\\   && echo   done".into())
    );
    // A backslash no longer continues a line.
    let d = parse("# escape=`\nRUN a \\\nRUN b\n");
    assert_eq!(d.instructions.len(), 2);
}

#[test]
fn directives_are_read_only_at_the_top() {
    let d = parse("# syntax=docker/dockerfile:1\n# Escape = ` \nFROM x\n");
    assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(d.escape, '`');
    // After a comment, an empty line or an instruction, `# escape=` is a comment.
    for text in [
        "# hello\n# escape=`\nRUN a `\nRUN b\n",
        "\n# escape=`\nRUN a `\nRUN b\n",
        "RUN a\n# escape=`\nRUN b `\nRUN c\n",
        "# unknown=1\n# escape=`\nRUN a `\nRUN b\n",
    ] {
        assert_eq!(parse(text).escape, '\\', "{text:?}");
    }
}

#[test]
fn bad_or_repeated_directives_are_errors() {
    assert_eq!(
        parse_error("# escape=x\nFROM a\n"),
        ParseError {
            line: 1,
            kind: ParseErrorKind::InvalidEscape("x".into())
        }
    );
    assert_eq!(
        parse_error("# escape=`\n# escape=`\nFROM a\n").kind,
        ParseErrorKind::DuplicateDirective("escape".into())
    );
    assert_eq!(parse_error("# syntax=a\n# syntax=b\nFROM a\n").line, 2);
}

#[test]
fn a_line_longer_than_dockers_scanner_buffer_is_an_error() {
    let fits = format!("RUN {}\n", "a".repeat(MAX_LINE_BYTES - 4));
    assert_eq!(parse(&fits).instructions.len(), 1);
    let long = format!("FROM a\nRUN {}\n", "a".repeat(MAX_LINE_BYTES - 3));
    assert_eq!(
        parse_error(&long),
        ParseError {
            line: 2,
            kind: ParseErrorKind::LineTooLong
        }
    );
}

#[test]
fn a_file_without_instructions_reads_as_none() {
    for text in ["", "\n\n", "# only a comment\n", "  \n\t\n", "\\\n"] {
        let d = parse(text);
        let expected = if text.starts_with('\\') { 1 } else { 0 };
        assert_eq!(d.instructions.len(), expected, "{text:?}");
    }
    assert_eq!(remote_kinds("# nothing\n"), []);
}

#[test]
fn bytes_that_are_not_utf8_are_refused_with_their_line() {
    let error = Dockerfile::parse_bytes(b"FROM a\nRUN \xff\n").unwrap_err();
    assert_eq!((error.line, error.kind), (2, ParseErrorKind::NotUtf8));
    let d = Dockerfile::parse_bytes(b"FROM a\n").expect("UTF-8");
    assert_eq!(d.instructions.len(), 1);
}

// ---- keywords, flags, arguments -------------------------------------------

#[test]
fn keywords_are_case_insensitive_and_unknown_ones_are_kept() {
    let d = parse("from a\nRuN b\nFROBNICATE x y\necho hi\n");
    let keywords: Vec<_> = d.instructions.iter().map(|i| i.keyword.clone()).collect();
    assert_eq!(
        keywords,
        [
            Keyword::From,
            Keyword::Run,
            Keyword::Unknown("FROBNICATE".into()),
            Keyword::Unknown("echo".into())
        ]
    );
    assert_eq!(d.instructions[2].arguments, Arguments::None);
    // Go lower-cases `İ` to `i`.
    assert_eq!(only("ONBUİLD RUN x").keyword, Keyword::Onbuild);
}

#[test]
fn flags_come_before_the_arguments() {
    let i = only("COPY --from=builder --chown=1000:1000 --chmod=755 --link /src /dst");
    assert_eq!(i.flag_values("from").collect::<Vec<_>>(), ["builder"]);
    assert_eq!(i.flag_values("chown").collect::<Vec<_>>(), ["1000:1000"]);
    assert_eq!(i.flag_values("chmod").collect::<Vec<_>>(), ["755"]);
    assert!(i.flags.contains(&Flag {
        name: "link".into(),
        value: None
    }));
    assert_eq!(i.words(), words(&["/src", "/dst"]));

    let i = only("FROM --platform=linux/amd64 busybox:1.35 AS base");
    assert_eq!(
        i.flag_values("platform").collect::<Vec<_>>(),
        ["linux/amd64"]
    );
    assert_eq!(i.words(), words(&["busybox:1.35", "AS", "base"]));

    let i = only("RUN --mount=type=cache,target=/root/.cache pip install x");
    assert_eq!(
        i.flag_values("mount").collect::<Vec<_>>(),
        ["type=cache,target=/root/.cache"]
    );
    assert_eq!(i.arguments, Arguments::Text("pip install x".into()));
}

#[test]
fn flag_words_lose_their_quotes_and_escapes_and_a_lone_double_dash_ends_them() {
    let i = only(r#"COPY --from="a b" --chown=\x /s /d"#);
    assert_eq!(i.flag_values("from").collect::<Vec<_>>(), ["a b"]);
    assert_eq!(i.flag_values("chown").collect::<Vec<_>>(), ["x"]);
    let i = only("COPY -- --from=x /s /d");
    assert!(i.flags.is_empty());
    assert_eq!(i.words(), words(&["--from=x", "/s", "/d"]));
    // A single dash is an argument.
    let i = only("RUN -x");
    assert_eq!(i.arguments, Arguments::Text("-x".into()));
}

#[test]
fn flag_bytes_are_read_as_go_reads_them() {
    // Go walks the flags byte by byte: 0xA0, the last byte of `à`, counts
    // as a space, and each byte becomes a Latin-1 character.
    let i = only("COPY --from=xà /s /d");
    assert_eq!(i.flag_values("from").collect::<Vec<_>>(), ["x\u{c3}"]);
    assert_eq!(i.words(), words(&["/s", "/d"]));
}

#[test]
fn json_form_is_decoded_and_shell_form_kept_as_text() {
    assert_eq!(
        only(r#"CMD ["echo", "a\"b", "\u00e9"]"#).arguments,
        Arguments::Json(words(&["echo", "a\"b", "é"]))
    );
    assert_eq!(
        only("CMD echo hi").arguments,
        Arguments::Text("echo hi".into())
    );
    assert_eq!(only("RUN [ ]").arguments, Arguments::Json(vec![]));
    // Invalid JSON falls back to the shell form, as Docker does.
    assert_eq!(
        only("CMD [\"echo\", 'x']").arguments,
        Arguments::Text("[\"echo\", 'x']".into())
    );
    assert_eq!(
        only("COPY [\"a\", \"b\"").arguments,
        Arguments::Words(words(&["[\"a\",", "\"b\""]))
    );
    // Only the first JSON value is read: the rest of the line is ignored
    // (a real build fetched the URL of `ADD ["http://…", "/x"] junk`).
    assert_eq!(
        only(r#"ADD ["http://h/x", "/x"] junk"#).arguments,
        Arguments::Json(words(&["http://h/x", "/x"]))
    );
}

#[test]
fn a_json_array_of_something_else_than_strings_is_an_error() {
    for text in [
        "CMD [1]",
        r#"RUN ["a", null]"#,
        r#"COPY ["a", ["b"]]"#,
        "VOLUME [{}]",
    ] {
        assert_eq!(
            parse_error(text).kind,
            ParseErrorKind::NotStringArray,
            "{text}"
        );
    }
}

#[test]
fn json_decoding_follows_go() {
    let strings = |v: &[&str]| JsonArray::Strings(words(v));
    let cases: &[(&str, JsonArray)] = &[
        (r#"["a","b"]"#, strings(&["a", "b"])),
        ("  [\"a\"]", strings(&["a"])),
        (r#"["\ud83d\ude00"]"#, strings(&["😀"])),
        // A lone surrogate is U+FFFD (a real build fetched `…/%EF%BF%BD`).
        (r#"["\ud800", "x"]"#, strings(&["\u{fffd}", "x"])),
        (r#"["\ud800\u0041"]"#, strings(&["\u{fffd}A"])),
        (r#"["a\/b\n"]"#, strings(&["a/b\n"])),
        (
            "[1, 2.5e3, true, false, null, {\"k\": [1]}]",
            JsonArray::NotStrings,
        ),
        // Go fails to decode a number out of range: shell form; an underflow
        // is only zero (both verified with a real build).
        (r#"[1e999, "x"]"#, JsonArray::NotJson),
        (r#"[1e-999, "x"]"#, JsonArray::NotStrings),
        (r#"["a",]"#, JsonArray::NotJson),
        (r#"[01]"#, JsonArray::NotJson),
        ("[\"a\tb\"]", JsonArray::NotJson),
        (r#"["\x"]"#, JsonArray::NotJson),
        (r#"["a"#, JsonArray::NotJson),
        (r#"{"a": 1}"#, JsonArray::NotJson),
        ("[tru]", JsonArray::NotJson),
        (r#"[{"a" 1}]"#, JsonArray::NotJson),
    ];
    for (text, expected) in cases {
        assert_eq!(&parse_json_array(text), expected, "{text}");
    }
    let deep_ok = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(parse_json_array(&deep_ok), JsonArray::NotStrings);
    let too_deep = format!("{}{}", "[".repeat(10_001), "]".repeat(10_001));
    assert_eq!(parse_json_array(&too_deep), JsonArray::NotJson);
}

#[test]
fn env_and_label_read_name_value_pairs_in_both_forms() {
    assert_eq!(
        only(r#"ENV A=1 B="two words" C=three\ words"#).arguments,
        Arguments::Pairs(vec![
            ("A".into(), "1".into()),
            ("B".into(), "\"two words\"".into()),
            ("C".into(), "three\\ words".into()),
        ])
    );
    assert_eq!(
        only("ENV PATH /usr/bin:/bin and more").arguments,
        Arguments::Pairs(vec![("PATH".into(), "/usr/bin:/bin and more".into())])
    );
    assert_eq!(
        only(r#"LABEL "maintainer"="me" version=1"#).arguments,
        Arguments::Pairs(vec![
            ("\"maintainer\"".into(), "\"me\"".into()),
            ("version".into(), "1".into()),
        ])
    );
    assert!(matches!(
        parse_error("ENV A").kind,
        ParseErrorKind::NameValue { keyword: "ENV", .. }
    ));
    assert!(matches!(
        parse_error("LABEL a=1 b").kind,
        ParseErrorKind::NameValue {
            keyword: "LABEL",
            ..
        }
    ));
    assert_eq!(only("ENV").arguments, Arguments::None);
}

#[test]
fn arg_keeps_its_words_with_their_quotes() {
    assert_eq!(
        only(r#"ARG A B=1 C="x y""#).arguments,
        Arguments::Words(words(&["A", "B=1", "C=\"x y\""]))
    );
}

#[test]
fn single_string_instructions_keep_their_text() {
    assert_eq!(
        only("USER  student ").arguments,
        Arguments::Text("student".into())
    );
    assert_eq!(
        only("WORKDIR /a b").arguments,
        Arguments::Text("/a b".into())
    );
    assert_eq!(
        only("STOPSIGNAL SIGTERM").arguments,
        Arguments::Text("SIGTERM".into())
    );
    assert_eq!(only("EXPOSE 80 443/tcp").words(), words(&["80", "443/tcp"]));
    assert_eq!(only("VOLUME [\"/data\"]").words(), words(&["/data"]));
}

#[test]
fn healthcheck_keeps_its_type_and_command() {
    assert_eq!(
        only("HEALTHCHECK --interval=5s CMD [\"curl\", \"-f\", \"x\"]").arguments,
        Arguments::Healthcheck {
            kind: "CMD".into(),
            command: Box::new(Arguments::Json(words(&["curl", "-f", "x"])))
        }
    );
    assert_eq!(
        only("HEALTHCHECK NONE").arguments,
        Arguments::Healthcheck {
            kind: "NONE".into(),
            command: Box::new(Arguments::None)
        }
    );
}

#[test]
fn onbuild_holds_its_trigger_one_level_deep() {
    let i = only("ONBUILD ADD --chown=1 http://h/x /x");
    let Arguments::Trigger(trigger) = &i.arguments else {
        panic!("{:?}", i.arguments);
    };
    assert_eq!(trigger.keyword, Keyword::Add);
    assert_eq!(trigger.flag_values("chown").collect::<Vec<_>>(), ["1"]);
    assert_eq!(trigger.words(), words(&["http://h/x", "/x"]));
    let i = only("ONBUILD ONBUILD ONBUILD RUN x");
    let Arguments::Trigger(trigger) = &i.arguments else {
        panic!("{:?}", i.arguments);
    };
    assert_eq!(trigger.arguments, Arguments::Text("ONBUILD RUN x".into()));
}

#[test]
fn heredocs_are_plain_text_and_their_body_lines_are_instructions() {
    // A real legacy build of this fails with `unknown instruction: ECHO`.
    let d = parse("FROM busybox:1.35\nRUN <<EOF\necho hi\nEOF\nCOPY <<-\"END\" /dest\n");
    let keywords: Vec<_> = d.instructions.iter().map(|i| i.keyword.as_str()).collect();
    assert_eq!(keywords, ["FROM", "RUN", "echo", "EOF", "COPY"]);
    assert_eq!(d.instructions[1].heredoc.as_deref(), Some("EOF"));
    assert_eq!(d.instructions[1].arguments, Arguments::Text("<<EOF".into()));
    assert_eq!(d.instructions[4].heredoc.as_deref(), Some("END"));
    assert_eq!(only("RUN python3 2<<X").heredoc.as_deref(), Some("X"));
    for text in [
        "RUN echo a<<b",
        "RUN cat << EOF",
        "RUN [\"<<EOF\"]",
        "CMD <<EOF",
    ] {
        assert_eq!(only(text).heredoc, None, "{text}");
    }
}

#[test]
fn excerpts_are_trimmed_bounded_and_safe_to_print() {
    let i = only(&format!("RUN \u{1b}[31m{}", "x".repeat(500)));
    let excerpt = i.excerpt();
    assert!(excerpt.starts_with("RUN ?[31m"), "{excerpt}");
    assert_eq!(excerpt.chars().count(), EXCERPT_CHARS + 1);
    assert!(excerpt.ends_with('…'));
    assert_eq!(only("  RUN a  ").excerpt(), "RUN a");
}

// ---- substitution ---------------------------------------------------------

struct TestVars(HashMap<&'static str, &'static str>);

impl Vars for TestVars {
    fn var(&self, name: &str) -> Option<&str> {
        self.0.get(name).copied()
    }
}

fn lex_with(word: &str, escape: char) -> Result<String, LexError> {
    let vars = TestVars(HashMap::from([
        ("H", "127.0.0.1"),
        ("EMPTY", ""),
        ("P", "http://"),
        ("é", "accent"),
    ]));
    expand(word, escape, &vars, &mut Budget::new(1 << 20))
}

fn lex(word: &str) -> Result<String, LexError> {
    lex_with(word, '\\')
}

#[test]
fn substitution_follows_shell_lex_go() {
    let cases: &[(&str, &str)] = &[
        ("$H", "127.0.0.1"),
        ("${H}", "127.0.0.1"),
        ("a$H:b", "a127.0.0.1:b"),
        ("$UNSET", ""),
        ("${UNSET}x", "x"),
        ("${UNSET:-d}", "d"),
        ("${EMPTY:-d}", "d"),
        ("${H:-d}", "127.0.0.1"),
        ("${H:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${UNSET:+alt}", ""),
        ("${UNSET:-${H:-x}}", "127.0.0.1"),
        ("${UNSET:-a}b}", "ab}"),
        ("${UNSET:-a\\}b}", "a}b"),
        ("${H?}", "127.0.0.1"),
        ("${H:?}", "127.0.0.1"),
        ("\\$H", "$H"),
        ("'$H'", "$H"),
        ("\"$H\"", "127.0.0.1"),
        ("\"a\\\"b\\$H\\x\"", "a\"b$H\\x"),
        ("h\\ttp", "http"),
        ("h\"tt\"p", "http"),
        ("a\\", "a"),
        ("$", "$"),
        ("$ x", "$ x"),
        ("$1abc", "abc"),
        ("$$", ""),
        ("$@x", "x"),
        ("$é", "accent"),
        ("${P}x", "http://x"),
        ("\u{feff}$P", "http://"),
        ("x\u{feff}", "x\u{feff}"),
        // Names are Go letters (category L) and digits (Nd): a combining
        // mark ends one, an Arabic-Indic digit does not.
        ("$P\u{345}x", "http://\u{345}x"),
        ("$H\u{661}", ""),
    ];
    for (word, expected) in cases {
        assert_eq!(lex(word).as_deref(), Ok(*expected), "{word:?}");
    }
}

#[test]
fn substitution_errors_follow_shell_lex_go() {
    // `${X-d}` was verified with a real build: "missing ':' in substitution".
    for word in [
        "${X-d}",
        "${X=d}",
        "${X:=d}",
        "${}",
        "${:x}",
        "${{x}",
        "${",
        "${X",
        "${X:-d",
        "${UNSET?}",
        "${UNSET:?}",
        "${EMPTY:?}",
        "'open",
        "\"open",
        "${ x}",
        "${X:+${UNSET?}}",
    ] {
        assert!(
            matches!(lex(word), Err(LexError::Syntax(_))),
            "{word:?}: {:?}",
            lex(word)
        );
    }
}

#[test]
fn the_escape_character_of_the_file_escapes_in_words() {
    assert_eq!(lex_with("`$H", '`').as_deref(), Ok("$H"));
    assert_eq!(lex_with("c:\\$H", '`').as_deref(), Ok("c:\\127.0.0.1"));
}

#[test]
fn deep_nesting_costs_no_recursion() {
    let depth = 100_000;
    let word = format!("{}http://x{}", "${UNSET:-".repeat(depth), "}".repeat(depth));
    let vars = TestVars(HashMap::new());
    let expanded = expand(&word, '\\', &vars, &mut Budget::new(usize::MAX));
    assert_eq!(expanded.as_deref(), Ok("http://x"));
}

#[test]
fn repeated_references_run_out_of_budget() {
    let vars = TestVars(HashMap::from([("BIG", "0123456789")]));
    let word = "$BIG".repeat(1000);
    assert_eq!(
        expand(&word, '\\', &vars, &mut Budget::new(5_000)),
        Err(LexError::Exhausted)
    );
    assert!(expand(&word, '\\', &vars, &mut Budget::new(20_000)).is_ok());
}

// ---- stages and remote sources --------------------------------------------

fn build_args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn evaluation(text: &str) -> Evaluation {
    evaluate(&parse(text), &no_args(), false).expect("within the work budget")
}

#[test]
fn stages_resolve_to_images_earlier_stages_or_scratch() {
    let e = evaluation(
        "FROM debian:bookworm-slim AS Downloader\nRUN x\nFROM scratch\nFROM downloader AS final\nFROM DOWNLOADER\nFROM final2\n",
    );
    let stages: Vec<_> = e
        .stages
        .iter()
        .map(|s| (s.line, s.name.clone(), s.base.clone()))
        .collect();
    assert_eq!(
        stages,
        [
            (
                1,
                Some("downloader".into()),
                Base::Image("debian:bookworm-slim".into())
            ),
            (3, None, Base::Scratch),
            (4, Some("final".into()), Base::Stage(0)),
            (5, None, Base::Stage(0)),
            (6, None, Base::Image("final2".into())),
        ]
    );
    // `AS` is matched as Go's EqualFold does (ſ folds to s).
    assert_eq!(
        evaluation("FROM a aſ b\n").stages[0].name.as_deref(),
        Some("b")
    );
    // A stage cannot be its own base, nor a later one.
    assert_eq!(
        evaluation("FROM me AS me\nFROM later\nFROM x AS later\n").stages[0].base,
        Base::Image("me".into())
    );
}

#[test]
fn copy_from_names_a_stage_by_name_or_index_or_else_an_image() {
    let e = evaluation(
        "FROM a AS builder\nFROM b\nCOPY --from=builder /x /x\nCOPY --from=BUILDER /x /x\nCOPY --from=0 /x /x\nCOPY --from=1 /x /x\nCOPY --from=-1 /x /x\nCOPY --from=localhost:5000/evil /a /b\nCOPY --from= /a /b\nCOPY /a /b\n",
    );
    let copies: Vec<_> = e.copies.iter().map(|c| (c.line, c.from.clone())).collect();
    assert_eq!(
        copies,
        [
            (3, CopyFrom::Stage(0)),
            (4, CopyFrom::Stage(0)),
            (5, CopyFrom::Stage(0)),
            (6, CopyFrom::InvalidIndex("1".into())),
            (7, CopyFrom::InvalidIndex("-1".into())),
            (8, CopyFrom::Image("localhost:5000/evil".into())),
        ]
    );
}

#[test]
fn copy_from_is_not_substituted_and_an_index_too_large_for_go_is_an_image() {
    // Both verified with a real build: `$X` is pulled as a reference (and
    // rejected), the huge number is pulled from Docker Hub.
    assert_eq!(
        remote_kinds(
            "FROM busybox:1.35\nARG X=builder\nCOPY --from=$X /a /b\nCOPY --from=99999999999999999999 /a /b\n"
        ),
        [
            (1, image("busybox:1.35")),
            (3, image("$X")),
            (4, image("99999999999999999999")),
        ]
    );
}

#[test]
fn add_of_a_local_file_is_not_remote() {
    assert_eq!(
        remote_kinds(
            "FROM scratch\nADD app.tar.gz /app/\nADD [\"a b\", \"/c\"]\nCOPY http://h/x /x\n"
        ),
        []
    );
}

#[test]
fn add_urls_are_remote_after_quotes_escapes_and_substitution() {
    let text = "FROM scratch
ADD http://127.0.0.1:8080/secret /s
ADD https://example.org/a.tgz local /dir/
ADD \"http://127.0.0.1:9/x\" /x
ADD h\\ttp://127.0.0.1:9/x /x
ADD [\"http://127.0.0.1:9/j\", \"/x\"] junk
ADD \u{feff}http://127.0.0.1:9/bom /x
ADD HTTP://127.0.0.1:9/upper /x
ADD git@github.com:a/b.git /src
ADD git://127.0.0.1/repo /src
ADD https://github.com/a/b.git#main /src
";
    assert_eq!(
        remote_kinds(text),
        [
            (2, url("http://127.0.0.1:8080/secret")),
            (3, url("https://example.org/a.tgz")),
            (4, url("http://127.0.0.1:9/x")),
            (5, url("http://127.0.0.1:9/x")),
            (6, url("http://127.0.0.1:9/j")),
            (7, url("http://127.0.0.1:9/bom")),
            (8, url("HTTP://127.0.0.1:9/upper")),
            (9, url("git@github.com:a/b.git")),
            (10, url("git://127.0.0.1/repo")),
            (11, url("https://github.com/a/b.git#main")),
        ]
    );
}

#[test]
fn an_arg_in_the_stage_expands_in_add() {
    let text = "FROM busybox:1.35\nARG H=127.0.0.1\nADD http://${H}:8080/x /x\n";
    assert_eq!(
        remote_kinds(text),
        [
            (1, image("busybox:1.35")),
            (3, url("http://127.0.0.1:8080/x"))
        ]
    );
}

#[test]
fn a_build_argument_overrides_only_a_declared_arg() {
    let text =
        "FROM busybox:1.35\nARG H=10.0.0.1\nADD http://$H:9/x /x\nADD http://$UNDECLARED:9/y /y\n";
    let args = build_args(&[("H", "127.0.0.1"), ("UNDECLARED", "127.0.0.2")]);
    let urls: Vec<_> = remote_with(text, &args)
        .into_iter()
        .skip(1)
        .map(|r| r.kind)
        .collect();
    assert_eq!(urls, [url("http://127.0.0.1:9/x"), url("http://:9/y")]);
}

#[test]
fn global_args_reach_from_but_a_stage_only_when_redeclared() {
    // Verified with a real build: without the redeclaration, `${H}` is empty.
    let text = "ARG BASE=busybox:1.35\nARG H=127.0.0.1\nFROM ${BASE}\nADD http://${H}:9/a /a\nARG H\nADD http://${H}:9/b /b\n";
    assert_eq!(
        remote_kinds(text),
        [
            (3, image("busybox:1.35")),
            (4, url("http://:9/a")),
            (6, url("http://127.0.0.1:9/b")),
        ]
    );
    let args = build_args(&[("BASE", "localhost:5000/evil"), ("H", "127.0.0.9")]);
    let kinds: Vec<_> = remote_with(text, &args)
        .into_iter()
        .map(|r| r.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            image("localhost:5000/evil"),
            url("http://:9/a"),
            url("http://127.0.0.9:9/b")
        ]
    );
    // A global ARG can use an earlier one; a stage ARG overrides the global value.
    let text = "ARG A=127.0.0.1\nARG B=${A}:9\nFROM scratch\nARG B\nARG A=x\nADD http://$B/$A /d\n";
    assert_eq!(remote_kinds(text), [(6, url("http://127.0.0.1:9/x"))]);
}

#[test]
fn env_wins_over_arg_and_expands_all_pairs_before_setting_them() {
    let text = "FROM scratch\nARG H=127.0.0.1\nENV H=127.0.0.2 G=$H\nADD http://$H/$G /d\n";
    let args = build_args(&[("H", "127.0.0.3")]);
    let urls: Vec<_> = remote_with(text, &args)
        .into_iter()
        .map(|r| r.kind)
        .collect();
    assert_eq!(urls, [url("http://127.0.0.2/127.0.0.3")]);
    // PATH is the daemon's default unless set.
    assert_eq!(
        remote_kinds("FROM scratch\nADD http://h$PATH /d\n"),
        [(
            2,
            url("http://h/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        )]
    );
}

#[test]
fn a_stage_built_from_another_inherits_its_env_not_its_args() {
    // Verified with a real build (stage names match case-insensitively).
    let text = "FROM busybox:1.35 AS Base\nENV H=127.0.0.1\nARG A=127.0.0.2\nFROM BASE\nADD http://$H:9/x http://$A/y /d/\n";
    assert_eq!(
        remote_kinds(text),
        [
            (1, image("busybox:1.35")),
            (5, url("http://127.0.0.1:9/x")),
            (5, url("http:///y")),
        ]
    );
}

#[test]
fn onbuild_triggers_run_in_a_stage_built_from_theirs() {
    // Verified with a real build: `# Executing 1 build trigger`, then the
    // daemon fetched the URL.
    let text = "FROM busybox:1.35 AS a\nENV H=127.0.0.1\nONBUILD ADD http://$H:9/x /x\nONBUILD COPY --from=localhost:5000/evil /a /b\nFROM a\nRUN true\nFROM a\n";
    let found = remote(text);
    let summary: Vec<_> = found
        .iter()
        .map(|r| {
            (
                r.line,
                r.keyword.as_str().to_string(),
                r.kind.clone(),
                r.triggered_by,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, "FROM".into(), image("busybox:1.35"), None),
            (3, "ONBUILD".into(), url("http://127.0.0.1:9/x"), Some(5)),
            (4, "ONBUILD".into(), image("localhost:5000/evil"), Some(5)),
            (3, "ONBUILD".into(), url("http://127.0.0.1:9/x"), Some(7)),
            (4, "ONBUILD".into(), image("localhost:5000/evil"), Some(7)),
        ]
    );
    assert_eq!(found[1].excerpt, "ONBUILD ADD http://$H:9/x /x");
    // Not run: in the last stage, in a stage nothing is built from, or
    // chained (Docker rejects ONBUILD ONBUILD, FROM and MAINTAINER triggers).
    let text = "FROM scratch AS a\nONBUILD ONBUILD ADD http://h/1 /x\nONBUILD FROM h/2\nFROM scratch\nONBUILD ADD http://h/3 /x\n";
    assert_eq!(remote_kinds(text), []);
}

#[test]
fn triggers_are_reread_with_the_default_escape_but_expanded_with_the_files() {
    // Both verified with a real build. In the file, line 3's trailing
    // backslash is a word (the escape is a backtick): the destination.
    // Re-read alone with `\` as escape, it continues the line into nothing,
    // and the daemon fails: "ADD requires at least two arguments". On line
    // 4, the backtick still escapes `$` when the source is expanded.
    let text = "# escape=`\nFROM scratch AS a\nONBUILD ADD http://h/1 \\\nONBUILD ADD http://h/`$X /d\nFROM a\n";
    assert_eq!(remote_kinds(text), [(4, url("http://h/$X"))]);
}

#[test]
fn words_that_fail_to_expand_fetch_nothing() {
    let text = "FROM scratch\nADD ${X-http://127.0.0.1:9/}x /x\nADD http://h/a ${D:?no destination}\nADD --chown=${U:?} http://h/b /b\nARG A=${oops\nADD http://h/$A /c\n";
    assert_eq!(remote_kinds(text), [(6, url("http://h/"))]);
    assert_eq!(
        evaluation("FROM ${NOPE:?}\nFROM $UNSET\nFROM\n")
            .stages
            .iter()
            .map(|s| s.base.clone())
            .collect::<Vec<_>>(),
        [Base::Unresolved, Base::Unresolved, Base::Unresolved]
    );
}

#[test]
fn instructions_before_the_first_from_other_than_arg_are_not_run() {
    // Verified with a real build: "no build stage in current context".
    assert_eq!(
        remote_kinds("ADD http://127.0.0.1/x /x\nFROM scratch\n"),
        []
    );
}

#[test]
fn backtick_escape_files_are_read_with_backtick_continuations() {
    // Verified with a real build: the continuation keeps the next line's
    // indentation, so the URL is `http://127.0.0.1:9/` and `x` a source.
    let text = "# escape=`\nFROM scratch\nADD http://127.0.0.1:9/`\n  x /x\n";
    assert_eq!(remote_kinds(text), [(3, url("http://127.0.0.1:9/"))]);
}

#[test]
fn a_heredoc_body_is_read_as_instructions_and_can_fetch() {
    let text = "FROM scratch\nRUN <<EOF\nADD http://127.0.0.1:9/x /x\nEOF\n";
    assert_eq!(remote_kinds(text), [(3, url("http://127.0.0.1:9/x"))]);
}

#[test]
fn a_remote_source_says_where_it_is_and_what_the_line_says() {
    let found = remote("FROM scratch\n\nADD   http://127.0.0.1:8080/secret \\\n   /s\n");
    assert_eq!(
        found,
        [RemoteSource {
            line: 3,
            keyword: Keyword::Add,
            kind: url("http://127.0.0.1:8080/secret"),
            excerpt: "ADD   http://127.0.0.1:8080/secret    /s".into(),
            triggered_by: None,
        }]
    );
}

#[test]
fn values_that_grow_with_each_reference_run_out_of_work() {
    let mut text = String::from("FROM scratch\nARG A0=0123456789abcdef0123456789abcdef\n");
    for i in 1..40 {
        text.push_str(&format!("ARG A{i}=${{A{p}}}${{A{p}}}\n", p = i - 1));
    }
    let result = remote_sources(&parse(&text), &no_args());
    assert!(
        matches!(result, Err(TooMuchWork { line }) if line > 2),
        "{result:?}"
    );
}

#[test]
fn a_long_chain_of_stages_stays_within_the_work_budget() {
    let mut text = String::from("FROM scratch AS s0\n");
    for i in 1..2000 {
        text.push_str(&format!("FROM s{p} AS s{i}\nENV V{i}=x\n", p = i - 1));
    }
    text.push_str("ADD http://h/x /x\n");
    let start = std::time::Instant::now();
    let result = remote_sources(&parse(&text), &no_args());
    // Either read in full or refused; never slow.
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    if let Ok(found) = result {
        assert_eq!(
            found.last().map(|r| r.kind.clone()),
            Some(url("http://h/x"))
        );
    }
}

// ---- the course's Dockerfiles ---------------------------------------------

fn course_dockerfiles() -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    let mut dirs = vec![root.join("Dockerfiles"), root.join("solutions")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("Dockerfile"))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn every_course_dockerfile_parses_and_fetches_only_its_base_images() {
    let files = course_dockerfiles();
    assert!(files.len() >= 40, "{} Dockerfiles found", files.len());
    for path in files {
        let bytes = std::fs::read(&path).expect("readable");
        let dockerfile = match Dockerfile::parse_bytes(&bytes) {
            Ok(d) => d,
            Err(e) => panic!("{}: {e}", path.display()),
        };
        let found = remote_sources(&dockerfile, &no_args()).expect("within the work budget");
        // `docker.io/library/debian:bookworm-slim` is the same image.
        let short = |i: &str| -> String {
            let i = i.strip_prefix("docker.io/").unwrap_or(i);
            i.strip_prefix("library/").unwrap_or(i).to_string()
        };
        for source in &found {
            assert!(
                matches!(&source.kind, RemoteKind::Image(i) if ["busybox:1.35", "debian:bookworm-slim"].contains(&short(i).as_str())),
                "{}: {source:?}",
                path.display()
            );
        }
    }
}

#[test]
fn the_multistage_solution_resolves_its_stages() {
    let text = include_str!("../../solutions/03-extra-stage/Dockerfile.03extra");
    let e = evaluation(text);
    let names: Vec<_> = e.stages.iter().map(|s| s.name.as_deref()).collect();
    assert_eq!(names, [Some("downloader"), Some("hello"), None]);
    assert_eq!(
        e.copies.iter().map(|c| c.from.clone()).collect::<Vec<_>>(),
        [CopyFrom::Stage(0)]
    );
}

// ---- hostile input never panics -------------------------------------------

proptest::proptest! {
    #[test]
    fn no_text_makes_the_reader_panic(text in "(?s)([A-Za-z#\\\\`$@{}:?+\\-'\"\\[\\], =\\n\\r\\t\u{feff}\u{a0}à<]|FROM |ADD |COPY --from=|ONBUILD |ARG |ENV |\\$\\{|http://){0,60}") {
        if let Ok(dockerfile) = Dockerfile::parse(&text) {
            let _ = remote_sources(&dockerfile, &build_args(&[("A", "x")]));
        }
    }

    #[test]
    fn no_word_makes_the_lexer_panic(word in "(?s)[a-z$@{}:?+\\-'\"\\\\`\u{feff}é0-9 ]{0,40}") {
        let _ = lex(&word);
        let _ = lex_with(&word, '`');
    }
}

#[test]
fn errors_name_the_line_and_the_problem() {
    assert_eq!(
        parse_error("FROM a\nCMD [1]\n").to_string(),
        "line 2: when using JSON array syntax, arrays must be comprised of strings only"
    );
    assert_eq!(
        parse_error("# escape=\u{1b}x\nFROM a\n").to_string(),
        "line 1: invalid escape token \"?x\" (only ` or \\ are allowed)"
    );
    assert!(TooMuchWork { line: 7 }.to_string().starts_with("line 7: "));
}
