//! The grammar of each assertion: what may be written under its key.

use regex::Regex;
use toml::de::DeValue;

use super::reader::{Diagnostics, Entry, Table};
use crate::observation::FileType;
use crate::spec::{
    Assertion, ConfigExpectation, ContainerExpectation, ExitExpectation, FileExpectation,
    LayerExpectation, MountExpectation, PortExpectation, SizeBounds, Step, TextMatcher,
    UserExpectation,
};

pub(super) fn size_bounds(diag: &mut Diagnostics, f: &Entry, steps: &[Step]) -> Option<SizeBounds> {
    let t = f.table(diag)?;
    t.only(
        diag,
        &[
            "max",
            "min",
            "max_over",
            "min_over",
            "by",
            "smaller_than",
            "larger_than",
        ],
    );
    let mut ok = true;
    let mut image_step = |key: &str, diag: &mut Diagnostics| -> Option<String> {
        let field = t.entry(key)?;
        let name = field.string(diag)?;
        match steps.iter().find(|s| s.name == name) {
            Some(s) if s.kind.yields_image() => Some(name),
            Some(_) => {
                field.invalid(
                    diag,
                    format!("step `{name}` is a run step; sizes compare images"),
                );
                ok = false;
                None
            }
            None => {
                field.invalid(diag, format!("no step named {name:?}"));
                ok = false;
                None
            }
        }
    };
    let max_over_step = image_step("max_over", diag);
    let min_over_step = image_step("min_over", diag);
    let smaller_than = image_step("smaller_than", diag);
    let larger_than = image_step("larger_than", diag);
    let by = t.entry("by").and_then(|b| b.size(diag));
    if let (Some(b), false) = (t.entry("by"), t.has("max_over") || t.has("min_over")) {
        b.invalid(diag, "`by` goes with `max_over` or `min_over`");
        ok = false;
    }
    let bounds = SizeBounds {
        max: t.entry("max").and_then(|m| m.size(diag)),
        min: t.entry("min").and_then(|m| m.size(diag)),
        max_over: max_over_step.map(|s| (s, by.unwrap_or(0))),
        min_over: min_over_step.map(|s| (s, by.unwrap_or(0))),
        smaller_than,
        larger_than,
    };
    if let (Some(f), true) = (t.entry("min_over"), t.has("max_over")) {
        f.invalid(
            diag,
            "`max_over` and `min_over` share `by`: write two checks",
        );
        ok = false;
    }
    if ![
        "max",
        "min",
        "max_over",
        "min_over",
        "smaller_than",
        "larger_than",
    ]
    .iter()
    .any(|k| t.has(k))
    {
        f.invalid(
            diag,
            "`size` needs at least one of max, min, max_over, smaller_than, larger_than",
        );
        return None;
    }
    ok.then_some(bounds)
}

/// `layers = { min, max, more_than, based_on, not_based_on, absent, present }`.
pub(super) fn layers(diag: &mut Diagnostics, f: &Entry, steps: &[Step]) -> Option<Assertion> {
    let t = f.table(diag)?;
    t.only(
        diag,
        &[
            "min",
            "max",
            "more_than",
            "based_on",
            "not_based_on",
            "absent",
            "present",
        ],
    );
    let before = diag.count();
    let image_step = |key: &str, diag: &mut Diagnostics| -> Option<String> {
        let m = t.entry(key)?;
        let name = m.string(diag)?;
        match steps.iter().find(|s| s.name == name) {
            Some(s) if s.kind.yields_image() => Some(name),
            _ => {
                m.invalid(diag, format!("no build or image step named {name:?}"));
                None
            }
        }
    };
    let want = LayerExpectation {
        more_than: image_step("more_than", diag),
        based_on: image_step("based_on", diag),
        not_based_on: image_step("not_based_on", diag),
        min: t.entry("min").and_then(|f| f.unsigned(diag)),
        max: t.entry("max").and_then(|f| f.unsigned(diag)),
        present: t
            .entry("present")
            .map(|a| super::forensics::layer_globs(diag, &a))
            .unwrap_or_default(),
        absent: t
            .entry("absent")
            .map(|a| super::forensics::layer_globs(diag, &a))
            .unwrap_or_default(),
    };
    if t.table.is_empty() {
        f.invalid(
            diag,
            "`layers` needs `min`, `max`, `more_than`, `based_on`, `not_based_on`, `absent` or `present`",
        );
        return None;
    }
    (diag.count() == before).then_some(Assertion::Layers(want))
}

/// `file = { path, equals | contains | not_contains | matches | not_matches }`.
pub(super) fn file(diag: &mut Diagnostics, f: &Entry) -> Option<Assertion> {
    let t = f.table(diag)?;
    t.only(
        diag,
        &[
            "path",
            "equals",
            "contains",
            "not_contains",
            "matches",
            "not_matches",
        ],
    );
    let path = match t.entry("path") {
        Some(p) => p.container_path(diag),
        None => {
            t.missing(diag, "path");
            None
        }
    };
    let matcher = text_matcher(diag, f, &t)?;
    Some(Assertion::File {
        path: path?,
        matcher,
    })
}

/// `stdout` or `stderr = { equals | contains | not_contains | matches | not_matches }`.
pub(super) fn stream(diag: &mut Diagnostics, f: &Entry) -> Option<TextMatcher> {
    let t = f.table(diag)?;
    t.only(
        diag,
        &[
            "equals",
            "contains",
            "not_contains",
            "matches",
            "not_matches",
        ],
    );
    text_matcher(diag, f, &t)
}

/// `user = { uid = N }` or `user = { not_root = true }`.
pub(super) fn user(diag: &mut Diagnostics, f: &Entry) -> Option<Assertion> {
    let t = f.table(diag)?;
    t.only(diag, &["uid", "not_root"]);
    match (t.entry("uid"), t.entry("not_root")) {
        (Some(uid), None) => uid
            .unsigned(diag)
            .and_then(|u| u32::try_from(u).ok())
            .map(|u| Assertion::User(UserExpectation::Uid(u))),
        (None, Some(nr)) => match nr.boolean(diag)? {
            true => Some(Assertion::User(UserExpectation::NotRoot)),
            false => {
                nr.invalid(
                    diag,
                    "`not_root = false` asserts nothing; use `uid = 0` to require root",
                );
                None
            }
        },
        _ => {
            f.invalid(diag, "`user` needs exactly one of `uid` or `not_root`");
            None
        }
    }
}

/// `context = { max = SIZE }`.
pub(super) fn context(diag: &mut Diagnostics, f: &Entry) -> Option<Assertion> {
    let t = f.table(diag)?;
    t.only(diag, &["max"]);
    match t.entry("max") {
        Some(m) => m.size(diag).map(|max| Assertion::Context { max }),
        None => {
            t.missing(diag, "max");
            None
        }
    }
}

/// `files = { present = [...], absent = [...] }`.
pub(super) fn files(diag: &mut Diagnostics, f: &Entry) -> Option<Assertion> {
    let t = f.table(diag)?;
    t.only(diag, &["present", "absent"]);
    let mut present = Vec::new();
    if let Some(items) = t.entry("present").and_then(|p| p.array(diag)) {
        present = items
            .iter()
            .filter_map(|item| file_expectation(diag, item))
            .collect();
    }
    let absent = match t.entry("absent") {
        Some(a) => a
            .array(diag)?
            .iter()
            .filter_map(|i| i.container_path(diag))
            .collect(),
        None => Vec::new(),
    };
    if present.is_empty() && absent.is_empty() {
        f.invalid(diag, "`files` needs `present` or `absent` paths");
        return None;
    }
    Some(Assertion::Files { present, absent })
}

/// One of `files.present`: a path, or `{ path, type, mode, uid, gid }`.
fn file_expectation(diag: &mut Diagnostics, item: &Entry) -> Option<FileExpectation> {
    let e = match item.value.get_ref() {
        DeValue::String(_) => {
            return item.container_path(diag).map(|path| FileExpectation {
                path,
                file_type: None,
                mode: None,
                uid: None,
                gid: None,
            });
        }
        DeValue::Table(_) => item.table(diag)?,
        _ => {
            item.wrong_type(diag, "a path or a table { path, type, mode, uid, gid }");
            return None;
        }
    };
    e.only(diag, &["path", "type", "mode", "uid", "gid"]);
    let path = match e.entry("path") {
        Some(p) => p.container_path(diag),
        None => {
            e.missing(diag, "path");
            None
        }
    };
    let file_type = e.entry("type").and_then(|ty| {
        ty.one_of(
            diag,
            &[
                ("file", FileType::File),
                ("dir", FileType::Dir),
                ("symlink", FileType::Symlink),
            ],
        )
    });
    let mode = e.entry("mode").and_then(|m| {
        let s = m.string(diag)?;
        match u32::from_str_radix(s.trim_start_matches("0o"), 8) {
            Ok(v) if v <= 0o7777 => Some(v),
            _ => {
                m.invalid(diag, format!("mode {s:?} must be octal, e.g. \"0755\""));
                None
            }
        }
    });
    Some(FileExpectation {
        path: path?,
        file_type,
        mode,
        uid: e.entry("uid").and_then(|u| u.unsigned(diag)),
        gid: e.entry("gid").and_then(|g| g.unsigned(diag)),
    })
}

fn text_matcher(diag: &mut Diagnostics, f: &Entry, t: &Table) -> Option<TextMatcher> {
    let regex = |diag: &mut Diagnostics, key: &str| -> Result<Option<Regex>, ()> {
        let Some(m) = t.entry(key) else {
            return Ok(None);
        };
        let pattern = m.string(diag).ok_or(())?;
        Regex::new(&pattern).map(Some).map_err(|e| {
            m.invalid(diag, format!("invalid regular expression: {e}"));
        })
    };
    let matches = regex(diag, "matches").ok()?;
    let not_matches = regex(diag, "not_matches").ok()?;
    let m = TextMatcher {
        equals: t.entry("equals").and_then(|x| x.string(diag)),
        contains: t.entry("contains").and_then(|x| x.string(diag)),
        not_contains: t.entry("not_contains").and_then(|x| x.string(diag)),
        matches,
        not_matches,
    };
    if m.equals.is_none()
        && m.contains.is_none()
        && m.not_contains.is_none()
        && m.matches.is_none()
        && m.not_matches.is_none()
    {
        f.invalid(
            diag,
            "needs one of `equals`, `contains`, `not_contains`, `matches`, `not_matches`",
        );
        return None;
    }
    Some(m)
}

pub(super) fn config(diag: &mut Diagnostics, f: &Entry) -> Option<ConfigExpectation> {
    let t = f.table(diag)?;
    t.only(
        diag,
        &[
            "user",
            "workdir",
            "cmd",
            "entrypoint",
            "env",
            "labels",
            "exposed_ports",
        ],
    );
    let c = ConfigExpectation {
        user: t.entry("user").and_then(|x| match x.value.get_ref() {
            DeValue::Integer(_) => x.unsigned(diag).map(|n| n.to_string()),
            _ => x.string(diag),
        }),
        workdir: t.entry("workdir").and_then(|x| x.string(diag)),
        cmd: t.entry("cmd").and_then(|x| x.string_array(diag)),
        entrypoint: t.entry("entrypoint").and_then(|x| x.string_array(diag)),
        env: t
            .entry("env")
            .and_then(|x| x.string_map(diag))
            .unwrap_or_default(),
        labels: t
            .entry("labels")
            .and_then(|x| x.string_map(diag))
            .unwrap_or_default(),
        exposed_ports: t
            .entry("exposed_ports")
            .and_then(|x| x.string_array(diag))
            .unwrap_or_default(),
    };
    if t.table.is_empty() {
        f.invalid(diag, "`config` needs at least one field to compare");
        return None;
    }
    Some(c)
}

pub(super) fn container(diag: &mut Diagnostics, f: &Entry) -> Option<ContainerExpectation> {
    let t = f.table(diag)?;
    t.only(
        diag,
        &["state", "exit_code", "image", "user", "mounts", "ports"],
    );
    let before = diag.count();
    let mut c = ContainerExpectation {
        state: t.entry("state").and_then(|x| {
            x.one_of(
                diag,
                &[
                    ("created", "created"),
                    ("running", "running"),
                    ("paused", "paused"),
                    ("restarting", "restarting"),
                    ("exited", "exited"),
                    ("dead", "dead"),
                ],
            )
            .map(str::to_string)
        }),
        exit_code: t.entry("exit_code").and_then(|x| x.integer(diag)),
        image: t.entry("image").and_then(|x| x.string(diag)),
        user: t.entry("user").and_then(|x| x.string(diag)),
        ..Default::default()
    };
    if let Some(items) = t.entry("mounts").and_then(|m| m.array(diag)) {
        c.mounts = items.iter().filter_map(|i| mount(diag, i)).collect();
    }
    if let Some(items) = t.entry("ports").and_then(|p| p.array(diag)) {
        c.ports = items.iter().filter_map(|i| port(diag, i)).collect();
    }
    if t.table.is_empty() {
        f.invalid(diag, "`container` needs at least one field to compare");
        return None;
    }
    (diag.count() == before).then_some(c)
}

/// One of `container.mounts`.
fn mount(diag: &mut Diagnostics, item: &Entry) -> Option<MountExpectation> {
    let m = item.table(diag)?;
    m.only(diag, &["target", "type", "source_name", "readonly"]);
    let target = match m.entry("target") {
        Some(x) => x.container_path(diag),
        None => {
            m.missing(diag, "target");
            None
        }
    }?;
    Some(MountExpectation {
        target,
        kind: m.entry("type").and_then(|x| {
            x.one_of(
                diag,
                &[("bind", "bind"), ("volume", "volume"), ("tmpfs", "tmpfs")],
            )
            .map(str::to_string)
        }),
        source_name: m.entry("source_name").and_then(|x| x.string(diag)),
        readonly: m.entry("readonly").and_then(|x| x.boolean(diag)),
    })
}

/// One of `container.ports`; `80` means `80/tcp`.
fn port(diag: &mut Diagnostics, item: &Entry) -> Option<PortExpectation> {
    let p = item.table(diag)?;
    p.only(diag, &["container", "host_ip", "host_port"]);
    let container = match p.entry("container") {
        Some(x) => x.string(diag).map(|s| {
            if s.contains('/') {
                s
            } else {
                format!("{s}/tcp")
            }
        }),
        None => {
            p.missing(diag, "container");
            None
        }
    }?;
    let host_port = p
        .entry("host_port")
        .and_then(|x| x.unsigned(diag))
        .and_then(|n| u16::try_from(n).ok());
    Some(PortExpectation {
        container,
        host_ip: p.entry("host_ip").and_then(|x| x.string(diag)),
        host_port,
    })
}

pub(super) fn exit_code(diag: &mut Diagnostics, f: &Entry) -> Option<ExitExpectation> {
    match f.value.get_ref() {
        DeValue::Integer(_) => f.integer(diag).map(ExitExpectation::Is),
        DeValue::Table(_) => {
            let t = f.table(diag)?;
            t.only(diag, &["not", "in"]);
            match (t.entry("not"), t.entry("in")) {
                (Some(n), None) => n.integer(diag).map(ExitExpectation::Not),
                (None, Some(i)) => {
                    let items = i.array(diag)?;
                    let codes: Vec<i64> = items.iter().filter_map(|x| x.integer(diag)).collect();
                    if codes.is_empty() {
                        i.invalid(diag, "`in` needs at least one exit code");
                        return None;
                    }
                    (codes.len() == items.len()).then_some(ExitExpectation::In(codes))
                }
                _ => {
                    f.invalid(diag, "`exit_code` table needs exactly one of `not` or `in`");
                    None
                }
            }
        }
        _ => {
            f.wrong_type(diag, "an exit code, { not = N } or { in = [...] }");
            None
        }
    }
}

/// `daemon = { rootless = true, storage_driver = "overlay2", security_options = ["seccomp"] }`.
pub(super) fn daemon(diag: &mut Diagnostics, f: &Entry) -> Option<Assertion> {
    let t = f.table(diag)?;
    t.only(diag, &["rootless", "storage_driver", "security_options"]);
    let want = crate::spec::DaemonExpectation {
        rootless: t.entry("rootless").and_then(|r| r.boolean(diag)),
        storage_driver: t.entry("storage_driver").and_then(|d| d.string(diag)),
        security_options: t
            .entry("security_options")
            .and_then(|o| o.string_array(diag))
            .unwrap_or_default(),
    };
    if want == crate::spec::DaemonExpectation::default() {
        f.invalid(
            diag,
            "`daemon` needs `rootless`, `storage_driver` or `security_options`",
        );
        return None;
    }
    Some(Assertion::Daemon(want))
}
