//! Assertions about a student's own container (live exercises).

use super::{Finding, quote};
use crate::observation::{ContainerFacts, MountFacts};
use crate::spec::{ContainerExpectation, MountExpectation, PortExpectation};

/// One compared field: matched, and the expected and seen texts.
struct Field {
    ok: bool,
    expected: String,
    actual: String,
}

/// `container`: every listed field of the container is as expected.
pub(super) fn container(want: &ContainerExpectation, have: &ContainerFacts) -> Finding {
    let compare = |field: &str, e: String, a: String| Field {
        ok: e == a,
        expected: format!("{field} {e}"),
        actual: format!("{field} {a}"),
    };
    let mut fields = Vec::new();
    if let Some(s) = &want.state {
        fields.push(compare("state", s.clone(), have.state.clone()));
    }
    if let Some(code) = want.exit_code {
        fields.push(compare(
            "exit code",
            code.to_string(),
            have.exit_code.map_or("unknown".into(), |c| c.to_string()),
        ));
    }
    if let Some(i) = &want.image {
        fields.push(image(i, have));
    }
    if let Some(u) = &want.user {
        let shown = if have.user.is_empty() {
            "none (root)".to_string()
        } else {
            quote(&have.user)
        };
        fields.push(compare("user", quote(u), shown));
    }
    fields.extend(want.mounts.iter().map(|m| mount(m, &have.mounts)));
    fields.extend(want.ports.iter().map(|p| port(p, &have.ports)));
    Finding::new(
        fields.iter().all(|f| f.ok),
        format!("container {}", have.name),
        fields
            .iter()
            .map(|f| f.expected.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        fields
            .iter()
            .map(|f| f.actual.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// The container ran the image `want` names. Identity, not spelling: a
/// container started from the image's id, a digest, or
/// `docker.io/library/hello-world:latest` ran the same image as one started
/// as `hello-world`. When the daemon does not have the image `want` names,
/// only the names can be compared (in their short form).
fn image(want: &str, have: &ContainerFacts) -> Field {
    let short = |s: &str| {
        let s = s.strip_prefix("docker.io/").unwrap_or(s);
        let s = s.strip_prefix("library/").unwrap_or(s);
        s.strip_suffix(":latest").unwrap_or(s).to_string()
    };
    let started_as = quote(&short(&have.image));
    match have.image_ids.get(want) {
        Some(id) => Field {
            ok: *id == have.image_id,
            expected: format!("image {} ({})", quote(want), short_id(id)),
            actual: if *id == have.image_id {
                format!("image {started_as} (the same image)")
            } else {
                format!("image {started_as} ({})", short_id(&have.image_id))
            },
        },
        None => Field {
            ok: short(want) == short(&have.image),
            expected: format!(
                "image {} (not on the daemon: compared by name)",
                quote(&short(want))
            ),
            actual: format!("image {started_as}"),
        },
    }
}

/// `sha256:0123456789ab`: enough of an id to tell images apart.
fn short_id(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    format!("sha256:{}", &hex[..hex.len().min(12)])
}

/// A mount at the expected target, of the expected kind, source and mode.
fn mount(m: &MountExpectation, mounts: &[MountFacts]) -> Field {
    let describe = |kind: &str, source: &str, readonly: bool| {
        let mut d = format!("{kind} mount at {}", m.target);
        if !source.is_empty() {
            d.push_str(&format!(" from {source}"));
        }
        d.push_str(if readonly {
            ", read-only"
        } else {
            ", writable"
        });
        d
    };
    let want_text = describe(
        m.kind.as_deref().unwrap_or("a"),
        m.source_name.as_deref().unwrap_or(""),
        m.readonly.unwrap_or(false),
    );
    let seen = mounts.iter().find(|h| h.target == m.target);
    let ok = seen.is_some_and(|h| {
        m.kind.as_ref().is_none_or(|k| &h.kind == k)
            && m.source_name
                .as_ref()
                .is_none_or(|n| h.source.rsplit('/').next() == Some(n.as_str()))
            && m.readonly.is_none_or(|r| h.readonly == r)
    });
    let actual = match seen {
        Some(h) => describe(
            &h.kind,
            h.source.rsplit('/').next().unwrap_or(""),
            h.readonly,
        ),
        None if mounts.is_empty() => "no mounts".to_string(),
        None => format!("nothing at {}", m.target),
    };
    Field {
        ok,
        expected: if m.readonly.is_some() {
            want_text
        } else {
            want_text.replace(", writable", "")
        },
        actual,
    }
}

/// A container port published on the expected host address and port.
fn port(p: &PortExpectation, ports: &[(String, String, Option<u16>)]) -> Field {
    let seen: Vec<&(String, String, Option<u16>)> =
        ports.iter().filter(|(c, _, _)| c == &p.container).collect();
    let ok = seen.iter().any(|(_, ip, port)| {
        p.host_ip.as_ref().is_none_or(|w| w == ip) && p.host_port.is_none_or(|w| Some(w) == *port)
    });
    let expected = format!(
        "{} published on {}:{}",
        p.container,
        p.host_ip.as_deref().unwrap_or("any address"),
        p.host_port.map_or("any port".into(), |n| n.to_string())
    );
    let actual = if seen.is_empty() {
        format!("{} not published", p.container)
    } else {
        seen.iter()
            .map(|(c, ip, port)| {
                format!(
                    "{c} on {}:{}",
                    if ip.is_empty() { "0.0.0.0" } else { ip },
                    port.map_or("?".into(), |n| n.to_string())
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    Field {
        ok,
        expected,
        actual,
    }
}

/// `daemon`: the facts listed hold for the daemon the exercise ran on.
pub(super) fn daemon(
    want: &crate::spec::DaemonExpectation,
    have: Option<&crate::observation::DaemonFacts>,
) -> super::Assessed {
    let Some(have) = have else {
        return Err((
            super::Status::Error,
            "the daemon did not say what it is".into(),
        ));
    };
    let mut ok = true;
    let mut expected = Vec::new();
    let mut actual = Vec::new();
    if let Some(rootless) = want.rootless {
        ok &= have.rootless == rootless;
        expected.push(
            if rootless {
                "rootless mode"
            } else {
                "a daemon running as root"
            }
            .to_string(),
        );
        actual.push(
            if have.rootless {
                "rootless mode"
            } else {
                "a daemon running as root (no `rootless` security option)"
            }
            .to_string(),
        );
    }
    if let Some(driver) = &want.storage_driver {
        ok &= &have.storage_driver == driver;
        expected.push(format!("storage driver {driver}"));
        actual.push(format!("storage driver {}", have.storage_driver));
    }
    for option in &want.security_options {
        ok &= have.security_options.contains(option);
        expected.push(format!("security option {option}"));
    }
    if !want.security_options.is_empty() {
        actual.push(format!(
            "security options [{}]",
            have.security_options.join(", ")
        ));
    }
    Ok(super::Finding::new(
        ok,
        "daemon",
        expected.join(", "),
        actual.join(", "),
    ))
}
