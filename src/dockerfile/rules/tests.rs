//! Each rule firing and not firing, on the line of its instruction; the
//! shell splitting and apt reading under them; hostile input.

use super::apt::{Apt, apt};
use super::shell::{Command, split};
use super::*;

fn run(text: &str, rules: &[Rule], cx: RuleContext) -> Vec<RuleFinding> {
    match check_rules(text, rules, &cx) {
        Ok(findings) => findings,
        Err(e) => panic!("{text:?}: {e}"),
    }
}

/// (rule id, line) of every finding of one rule.
fn lines_of(rule: Rule, text: &str) -> Vec<usize> {
    lines_with(rule, text, RuleContext::default())
}

fn lines_with(rule: Rule, text: &str, cx: RuleContext) -> Vec<usize> {
    let findings = run(text, &[rule], cx);
    assert!(findings.iter().all(|f| f.rule == rule));
    findings.iter().map(|f| f.line).collect()
}

fn commands(script: &str) -> Vec<Vec<String>> {
    let mut budget = Budget::new(1 << 20);
    let split = split(script, &mut budget).expect("within budget");
    split.into_iter().map(|c| c.words).collect()
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn apt_of(command: &str) -> Option<Apt> {
    let words = commands(command).remove(0);
    apt(&Command { words })
}

// ---- the rule list ---------------------------------------------------------

#[test]
fn every_rule_has_a_distinct_id_that_reads_back() {
    let mut ids: Vec<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
    for rule in Rule::ALL {
        assert_eq!(Rule::from_id(rule.id()), Some(rule));
        assert_eq!(rule.to_string(), rule.id());
        assert!(!rule.title().is_empty());
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), Rule::ALL.len());
    assert_eq!(Rule::from_id("no-such-rule"), None);
    assert!(Rule::course().iter().all(|r| Rule::ALL.contains(r)));
    assert_eq!(Rule::UntaggedFrom.hadolint(), Some("DL3006"));
    assert_eq!(Rule::InstallWithoutUpdate.hadolint(), None);
}

// ---- FROM ------------------------------------------------------------------

#[test]
fn an_image_without_a_tag_or_with_latest_is_found() {
    let text = "FROM debian\nFROM debian:latest\nFROM debian:bookworm-slim\n\
                FROM localhost:5000/debian\nFROM localhost:5000/debian:latest\n";
    assert_eq!(lines_of(Rule::UntaggedFrom, text), [1, 4]);
    assert_eq!(lines_of(Rule::LatestFrom, text), [2, 5]);
    let findings = run(text, &[Rule::UntaggedFrom], RuleContext::default());
    assert!(
        findings[0].message.contains("`FROM debian`"),
        "{findings:?}"
    );
    assert!(findings[0].message.contains("reproducibility"));
}

#[test]
fn scratch_stages_digests_and_unknown_arguments_are_not_judged() {
    let text = "FROM scratch\n\
                FROM debian:bookworm-slim AS Builder\n\
                FROM builder\n\
                FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n\
                FROM debian:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n\
                FROM ${UNSET}\n\
                FROM --platform=linux/amd64 busybox:1.35\n";
    assert!(
        run(
            text,
            &[Rule::UntaggedFrom, Rule::LatestFrom],
            RuleContext::default()
        )
        .is_empty()
    );
}

#[test]
fn arguments_in_from_are_substituted_as_docker_does() {
    let text = "ARG BASE=debian\nARG TAG=latest\nARG GOOD=debian:bookworm-slim\n\
                FROM ${BASE}\nFROM debian:${TAG}\nFROM $GOOD\nFROM ${BASE}:${NOPE:-12}\n";
    assert_eq!(lines_of(Rule::UntaggedFrom, text), [4]);
    assert_eq!(lines_of(Rule::LatestFrom, text), [5]);
    // An ARG declared inside a stage does not reach a later FROM.
    let text = "FROM debian:12\nARG IMG=alpine\nFROM ${IMG}\n";
    assert!(lines_of(Rule::UntaggedFrom, text).is_empty());
}

// ---- apt-get install without update ----------------------------------------

#[test]
fn an_install_without_an_update_before_it_in_the_run_is_found() {
    let text = "FROM debian:12\n\
                RUN apt-get install -y git\n\
                RUN apt-get update && apt-get install -y git\n\
                RUN apt-get install -y git && apt-get update\n\
                RUN apt update; apt -y install git\n\
                RUN apt-get update\n\
                RUN apt-get install --yes curl\n";
    assert_eq!(lines_of(Rule::InstallWithoutUpdate, text), [2, 4, 7]);
    let findings = run(text, &[Rule::InstallWithoutUpdate], RuleContext::default());
    assert!(findings[0].message.contains("no package lists"));
    assert!(
        findings[2].message.contains("RUN on line 6"),
        "{}",
        findings[2].message
    );
}

#[test]
fn lists_removed_by_an_earlier_run_are_not_blamed_on_it() {
    let text = "FROM debian:12\n\
                RUN apt-get update && apt-get install -y git && rm -rf /var/lib/apt/lists/*\n\
                RUN apt install -y curl\n\
                RUN apt-get update && rm -rf /var/lib/apt/lists/* && apt-get install -y vim\n";
    let findings = run(text, &[Rule::InstallWithoutUpdate], RuleContext::default());
    let lines: Vec<usize> = findings.iter().map(|f| f.line).collect();
    assert_eq!(lines, [3, 4]);
    let message = &findings[0].message;
    assert!(
        message.contains("`apt install` without `apt update`"),
        "{message}"
    );
    assert!(message.contains("no package lists"), "{message}");
}

#[test]
fn install_forms_continuations_and_exec_forms_are_read() {
    let text = "FROM debian:12\n\
                RUN apt-get update \\\n    && apt-get install -y --no-install-recommends \\\n       git\n\
                RUN [\"apt-get\", \"install\", \"-y\", \"git\"]\n\
                RUN [\"/bin/sh\", \"-ec\", \"apt-get update && apt-get install -y git\"]\n\
                RUN DEBIAN_FRONTEND=noninteractive apt-get -qq install -y git=1:2.39*\n\
                RUN apt-get install -f\n\
                RUN set -eux; if true; then apt-get update; fi; apt-get install -y git\n";
    assert_eq!(lines_of(Rule::InstallWithoutUpdate, text), [5, 7]);
}

// ---- apt lists ---------------------------------------------------------------

#[test]
fn an_update_that_leaves_the_lists_in_the_final_image_is_found() {
    let text = "FROM debian:12\n\
                RUN apt-get update && apt-get install -y git\n\
                RUN apt-get update && apt-get install -y git && rm -rf /var/lib/apt/lists/*\n\
                RUN apt-get update && apt-get install -y git && rm -r -f /var/lib/apt/lists\n\
                RUN apt-get update && apt-get install -y git && apt-get clean\n\
                RUN apt-get update && rm -rf /tmp/build\n";
    assert_eq!(lines_of(Rule::AptListsKept, text), [2, 5, 6]);
}

#[test]
fn only_the_stages_of_the_final_image_count_for_the_lists() {
    let text = "FROM debian:12 AS base\n\
                RUN apt-get update\n\
                FROM debian:12 AS builder\n\
                RUN apt-get update && apt-get install -y git\n\
                FROM base\n\
                COPY --from=builder /x /x\n";
    assert_eq!(lines_of(Rule::AptListsKept, text), [2]);
}

// ---- removed in a later RUN ------------------------------------------------------

#[test]
fn a_package_removed_in_a_later_run_is_found_with_the_line_that_installed_it() {
    let text = "FROM debian:12\n\
                RUN apt-get update && apt-get install -y git curl\n\
                RUN apt-get purge -y git && apt-get autoremove -y\n\
                RUN apt-get remove --purge -y curl\n\
                RUN apt-get purge -y wget\n";
    assert_eq!(lines_of(Rule::RemoveInLaterRun, text), [3, 4]);
    let findings = run(text, &[Rule::RemoveInLaterRun], RuleContext::default());
    let message = &findings[0].message;
    assert!(
        message.contains("git (installed by the RUN on line 2)"),
        "{message}"
    );
    assert!(
        message.contains("does not make the image smaller"),
        "{message}"
    );
    assert!(message.contains("same RUN"), "{message}");
}

#[test]
fn a_package_removed_in_the_run_that_installed_it_is_fine() {
    let text = "FROM debian:12\n\
                RUN apt-get update && apt-get install -y git \\\n\
                \x20   && git clone /tmp/b docker_tutorial \\\n\
                \x20   && apt-get purge -y git && apt-get autoremove -y\n\
                RUN apt-get autoremove -y\n";
    assert!(lines_of(Rule::RemoveInLaterRun, text).is_empty());
}

#[test]
fn removal_follows_the_stage_lineage_and_package_versions() {
    let text = "FROM debian:12 AS downloader\n\
                RUN apt-get update && apt-get install -y git=1:2.39* vim/bookworm\n\
                FROM debian:12\n\
                RUN apt-get purge -y git\n\
                FROM downloader\n\
                RUN apt purge -y git vim:amd64\n\
                RUN apt-get purge -y git\n";
    assert_eq!(lines_of(Rule::RemoveInLaterRun, text), [6]);
}

// ---- ADD -------------------------------------------------------------------------

#[test]
fn add_of_a_local_file_is_found_but_not_of_urls_or_archives() {
    let text = "FROM debian:12\n\
                ADD docker_tutorial ./docker_tutorial\n\
                ADD https://example.org/x.txt /x\n\
                ADD data.tar.gz /data/\n\
                ADD [\"a.tgz\", \"/x/\"]\n\
                ADD data.tar notes.txt /x/\n\
                ADD --chown=1000:1000 test_data.dat ./\n\
                COPY docker_tutorial ./docker_tutorial\n";
    assert_eq!(lines_of(Rule::AddInsteadOfCopy, text), [2, 6, 7]);
    let findings = run(text, &[Rule::AddInsteadOfCopy], RuleContext::default());
    assert!(findings[1].message.contains("`notes.txt`"), "{findings:?}");
}

#[test]
fn add_sources_are_substituted() {
    let text = "FROM debian:12\nARG URL=https://example.org/x\nENV ARCHIVE=x.tar\n\
                ADD ${URL} /x\nADD $ARCHIVE /x/\nADD ${FILE:-notes.txt} /x\n";
    assert_eq!(lines_of(Rule::AddInsteadOfCopy, text), [6]);
}

// ---- cd ----------------------------------------------------------------------------

#[test]
fn cd_in_a_run_is_found_wherever_it_runs() {
    let text = "FROM debian:12\n\
                RUN cd /software && make\n\
                RUN echo cd; echo 'cd /x'\n\
                RUN (cd /x && make) || true\n\
                RUN [\"sh\", \"-c\", \"cd /x && make\"]\n\
                RUN [\"cd\", \"/x\"]\n\
                RUN make -C /x\n\
                WORKDIR /software\n";
    assert_eq!(lines_of(Rule::CdInsteadOfWorkdir, text), [2, 4, 5, 6]);
}

// ---- USER ----------------------------------------------------------------------------

fn non_root() -> RuleContext {
    RuleContext {
        wants_non_root: true,
        has_dockerignore: false,
    }
}

#[test]
fn root_as_the_last_user_of_the_final_stage_is_found() {
    for user in ["root", "0", "0:0", "root:root", "00"] {
        let text = format!("FROM debian:12\nRUN useradd student\nUSER student\nUSER {user}\n");
        assert_eq!(lines_with(Rule::RootUser, &text, non_root()), [4], "{user}");
    }
    for user in ["student", "1000", "1000:1000", "ROOT", "rooter"] {
        let text = format!("FROM debian:12\nUSER root\nUSER {user}\n");
        assert!(
            lines_with(Rule::RootUser, &text, non_root()).is_empty(),
            "{user}"
        );
    }
}

#[test]
fn no_user_at_all_is_found_on_the_final_from_and_only_when_asked() {
    let text = "FROM debian:12 AS build\nUSER student\nFROM debian:12\nCMD [\"id\"]\n";
    assert_eq!(lines_with(Rule::RootUser, text, non_root()), [3]);
    let findings = run(text, &[Rule::RootUser], non_root());
    assert!(findings[0].message.contains("sets no USER"), "{findings:?}");
    assert!(lines_of(Rule::RootUser, "FROM debian:12\nUSER root\n").is_empty());
}

#[test]
fn user_is_inherited_from_the_stage_the_final_one_is_built_on() {
    let text = "FROM debian:12 AS base\nUSER root\nFROM base\nRUN id\n";
    assert_eq!(lines_with(Rule::RootUser, text, non_root()), [2]);
    let text = "FROM debian:12 AS base\nUSER student\nFROM base\nRUN id\n";
    assert!(lines_with(Rule::RootUser, text, non_root()).is_empty());
    // A root build stage that the final image is not built on is fine.
    let text = "FROM debian:12 AS build\nUSER root\nFROM debian:12\nUSER student\n";
    assert!(lines_with(Rule::RootUser, text, non_root()).is_empty());
}

#[test]
fn user_is_substituted_and_an_unknown_one_is_not_judged() {
    let text = "FROM debian:12\nARG WHO=root\nUSER $WHO\n";
    assert_eq!(lines_with(Rule::RootUser, text, non_root()), [3]);
    let text = "FROM debian:12\nENV WHO=student\nUSER ${WHO}\n";
    assert!(lines_with(Rule::RootUser, text, non_root()).is_empty());
    let text = "FROM debian:12\nUSER ${WHO:?}\n";
    assert!(lines_with(Rule::RootUser, text, non_root()).is_empty());
}

// ---- COPY . ----------------------------------------------------------------------

#[test]
fn copying_the_whole_context_without_a_dockerignore_is_found() {
    let text = "FROM debian:12\nCOPY . .\nADD . /software\nCOPY [\".\", \"/x\"]\n\
                COPY ./ /x\nCOPY docker_tutorial ./docker_tutorial\nCOPY --from=build . .\n";
    assert_eq!(
        lines_of(Rule::CopyAllWithoutDockerignore, text),
        [2, 3, 4, 5]
    );
    let ignored = RuleContext {
        wants_non_root: false,
        has_dockerignore: true,
    };
    assert!(lines_with(Rule::CopyAllWithoutDockerignore, text, ignored).is_empty());
}

// ---- all together ------------------------------------------------------------------

#[test]
fn findings_come_in_line_order_and_quote_a_bounded_excerpt() {
    let long = "x".repeat(500);
    let text = format!("FROM debian\nRUN cd /{long} && apt-get install -y git\nUSER root\n");
    let findings = run(&text, &Rule::ALL, non_root());
    let got: Vec<(usize, &str)> = findings.iter().map(|f| (f.line, f.rule.id())).collect();
    assert_eq!(
        got,
        [
            (1, "untagged-from"),
            (2, "install-without-update"),
            (2, "cd-instead-of-workdir"),
            (3, "root-user"),
        ]
    );
    for f in &findings {
        assert!(f.message.chars().count() < 700, "{}", f.message);
        assert!(!f.message.contains(&"x".repeat(200)));
    }
}

#[test]
fn an_unreadable_dockerfile_is_an_error_with_its_line() {
    let e = check_rules(
        "# escape=x\nFROM debian\n",
        &Rule::ALL,
        &RuleContext::default(),
    )
    .expect_err("invalid escape");
    assert_eq!(e.line, 1);
    assert!(e.to_string().contains("escape"), "{e}");
}

#[test]
fn only_the_rules_walk_notes_user_and_add_words() {
    // `remote_sources` (the safety check before a build) walks without
    // expanding USER, as it did before the rules.
    let d = Dockerfile::parse("FROM debian:12\nUSER $X\nADD a b\n").expect("parses");
    let walk = |note| evaluate(&d, &BTreeMap::new(), note).expect("within budget");
    assert!(walk(false).expanded.is_empty());
    assert_eq!(walk(true).expanded.len(), 2);
}

// ---- shell and apt -------------------------------------------------------------------

#[test]
fn scripts_split_into_commands_as_a_shell_would() {
    assert_eq!(
        commands("a 'b c' \"d $x\" && e\\ f || g; h | i & j\n(k) {"),
        [
            words(&["a", "b c", "d $x"]),
            words(&["e f"]),
            words(&["g"]),
            words(&["h"]),
            words(&["i"]),
            words(&["j"]),
            words(&["k"]),
        ]
    );
    assert_eq!(
        commands("A=1 B=\"2 3\" sudo -u root env -i C=4 apt-get install x >/dev/null 2>&1 # cd y"),
        [words(&["apt-get", "install", "x"])]
    );
    assert_eq!(
        commands("echo $(cd /x && pwd) `cd /y` \"$(echo \")\")\" ''"),
        [words(&[
            "echo",
            "$(cd /x && pwd)",
            "`cd /y`",
            "$(echo \")\")",
            ""
        ])]
    );
    assert_eq!(
        commands("if true; then cd /x; fi; while x; do y; done"),
        [
            words(&["true"]),
            words(&["cd", "/x"]),
            words(&["x"]),
            words(&["y"])
        ]
    );
}

#[test]
fn apt_commands_are_read_past_their_options() {
    assert_eq!(apt_of("apt-get update"), Some(Apt::Update));
    assert_eq!(apt_of("apt-get -qq update"), Some(Apt::Update));
    assert_eq!(
        apt_of(
            "apt-get -o Dpkg::Options::=--force-confold -y install --no-install-recommends git=1:2.39* ca-certificates ./x.deb"
        ),
        Some(Apt::Install(words(&["git", "ca-certificates"])))
    );
    assert_eq!(
        apt_of("/usr/bin/apt -y purge git:amd64 --auto-remove"),
        Some(Apt::Remove(words(&["git"])))
    );
    assert_eq!(
        apt_of("aptitude remove vim"),
        Some(Apt::Remove(words(&["vim"])))
    );
    assert_eq!(apt_of("apt-get autoremove -y"), Some(Apt::Remove(vec![])));
    assert_eq!(apt_of("apt-cache policy git"), None);
    assert_eq!(apt_of("apt-get"), None);
}

// ---- hostile input ---------------------------------------------------------------------

#[test]
fn hostile_dockerfiles_end_without_panic_within_the_budget() {
    let nested = format!("FROM debian:12\nRUN echo {}\n", "$(\"".repeat(20_000));
    let quotes = format!("FROM debian:12\nRUN {}\n", "'\"`\\".repeat(15_000));
    let stages: String = (0..2_000)
        .map(|i| {
            format!(
                "FROM {} AS s{i}\nRUN apt-get install -y p{i} q{i}\n",
                if i == 0 {
                    "debian:12".into()
                } else {
                    format!("s{}", i - 1)
                }
            )
        })
        .collect();
    let exec = format!(
        "FROM debian:12\nRUN [\"sh\", {}\"-c\"]\n",
        "\"-o\", ".repeat(5_000)
    );
    for text in [nested, quotes, stages, exec] {
        match check_rules(&text, &Rule::ALL, &non_root()) {
            Ok(_) => {}
            Err(e) => assert!(e.message.contains("more work"), "{e}"),
        }
    }
}

proptest::proptest! {
    /// Any RUN, USER, ADD or COPY text, built from the characters the
    /// splitter and the reader care about, is checked without a panic.
    #[test]
    fn any_instruction_text_is_checked_without_panic(
        keyword in proptest::sample::select(vec!["RUN", "USER", "ADD", "COPY", "FROM"]),
        body in "[ a-z0-9'\"`\\\\$(){};&|<>#=:/.*\\[\\],\n-]{0,80}",
    ) {
        let text = format!("ARG A=x\nFROM debian:12 AS s\n{keyword} {body}\nFROM s\n{keyword} {body}\n");
        let findings = check_rules(&text, &Rule::ALL, &non_root());
        if let Ok(findings) = findings {
            proptest::prop_assert!(findings.iter().all(|f| f.line >= 1 && f.line <= text.lines().count()));
        }
    }
}
