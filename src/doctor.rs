//! `dockgrade doctor`: can this machine take the course?
//!
//! For a student before the workshop. Each item is one line, ✓ or ✗, and
//! when it fails, what to do about it. The checks go from the outside in:
//! can the daemon be reached at all, what is it, is there room, are the
//! course's images there (or can they be pulled), does a container run, does
//! `--user` work. The exit code is 0 only when the course can be taken.

use std::path::Path;
use std::time::Duration;

use crate::engine::{self, Engine, EngineError};
use crate::plan::Probe;
use crate::spec::{Exercise, ImageSource, Limits, Mode, Network, PullPolicy, RunStep, StepKind};

/// The images every course machine needs, beyond those the exercises name.
pub const COURSE_IMAGES: [&str; 3] = ["busybox:1.35", "debian:bookworm-slim", "hello-world:latest"];

/// Free space below which builds of the course are likely to fail.
const MIN_FREE: u64 = 2_000_000_000;

/// One line of the diagnosis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub ok: bool,
    pub what: String,
    /// What to do when it failed.
    pub fix: Option<String>,
}

fn good(what: impl Into<String>) -> Item {
    Item {
        ok: true,
        what: what.into(),
        fix: None,
    }
}

fn bad(what: impl Into<String>, fix: impl Into<String>) -> Item {
    Item {
        ok: false,
        what: what.into(),
        fix: Some(fix.into()),
    }
}

/// Why the daemon cannot be reached, and what to do, from the address and error.
pub fn unreachable_advice(host: &str, message: &str) -> String {
    let m = message.to_lowercase();
    let socket = host.strip_prefix("unix://");
    if m.contains("permission denied") {
        "you may not use the daemon's socket: add yourself to the docker group \
         (`sudo usermod -aG docker $USER`, then log out and in), or use rootless Docker"
            .to_string()
    } else if socket.is_some_and(|s| !Path::new(s).exists()) {
        let mut advice = format!(
            "no socket at {}: start the daemon (`sudo systemctl start docker`, or open Docker Desktop)",
            socket.unwrap_or("")
        );
        if std::env::var_os("DOCKER_HOST").is_some() {
            advice.push_str(&format!(
                "; DOCKER_HOST={host} is set: unset it if the daemon listens elsewhere"
            ));
        }
        advice
    } else if std::env::var_os("DOCKER_HOST").is_some() {
        format!(
            "DOCKER_HOST={host} is set but nothing answers there: unset it, or point it at a running daemon"
        )
    } else {
        "the daemon does not answer: (re)start it (`sudo systemctl restart docker`, or Docker Desktop)".to_string()
    }
}

/// Runs every check; `exercises` adds the base images the course names.
pub async fn diagnose(exercises: &[Exercise]) -> Vec<Item> {
    let host = engine::docker_host();
    let engine = match Engine::connect(&format!("doctor{}", std::process::id())).await {
        Ok(engine) => engine,
        Err(EngineError::Unreachable { message, .. }) => {
            return vec![bad(
                format!("the Docker daemon at {host} cannot be reached: {message}"),
                unreachable_advice(&host, &message),
            )];
        }
        Err(e) => return vec![bad(e.to_string(), "check the daemon's log")],
    };
    let mut items = Vec::new();
    match engine.describe_daemon().await {
        Ok(info) => {
            items.push(good(format!(
                "the Docker daemon answers at {host}: Docker {} (API {}) on {}",
                info.version, info.api_version, info.operating_system
            )));
            items.push(if info.storage_driver == "overlay2" {
                good("storage driver overlay2")
            } else {
                bad(
                    format!("storage driver {}", info.storage_driver),
                    "overlay2 is recommended; the course may be slow otherwise",
                )
            });
            items.push(good(if info.rootless {
                "rootless daemon"
            } else {
                "rootful daemon (rootless mode is safer; see the course, section 4.1)"
            }));
            if Path::new(&info.root_dir).exists() {
                match fs4::available_space(&info.root_dir) {
                    Ok(free) if free >= MIN_FREE => {
                        items.push(good(format!("{} free under {}", crate::spec::units::format_size(free), info.root_dir)))
                    }
                    Ok(free) => items.push(bad(
                        format!("only {} free under {}", crate::spec::units::format_size(free), info.root_dir),
                        "free at least 2 GB: `docker system prune` removes stopped containers and unused images",
                    )),
                    Err(e) => items.push(bad(format!("free space under {} unknown: {e}", info.root_dir), "check with df")),
                }
            } else {
                items.push(good(format!(
                    "the daemon's storage ({}) is on another machine or VM",
                    info.root_dir
                )));
            }
        }
        Err(e) => items.push(bad(
            format!("the daemon does not describe itself: {e}"),
            "restart the daemon",
        )),
    }
    let mut images: Vec<String> = COURSE_IMAGES.iter().map(|s| s.to_string()).collect();
    for ex in exercises.iter().filter(|e| e.mode == Mode::Check) {
        for step in &ex.steps {
            if let StepKind::Image { reference, .. } = &step.kind
                && !images.contains(reference)
            {
                images.push(reference.clone());
            }
        }
    }
    for image in &images {
        match engine.image(image, PullPolicy::Missing, &Probe::default()).await {
            Ok(_) => items.push(good(format!("image {image} is present"))),
            Err(e) => items.push(bad(
                format!("image {image}: {}", match e {
                    engine::StepError::Submission(m) | engine::StepError::Infrastructure(m) => m,
                }),
                format!("`docker pull {image}`; without a registry, ci/seed-images.sh builds local stand-ins"),
            )),
        }
    }
    let run = |cmd: &[&str], user: Option<&str>| RunStep {
        image: ImageSource::Reference("busybox:1.35".into()),
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        entrypoint: None,
        user: user.map(str::to_string),
        env: Default::default(),
        workdir: None,
        network: Network::None,
        stdin: None,
        mounts: Vec::new(),
        timeout: Duration::from_secs(30),
        limits: Limits::default(),
    };
    let name = format!("dockgrade-doctor-{}", std::process::id());
    match engine
        .run(
            &format!("{name}-run"),
            "busybox:1.35",
            "",
            &run(&["true"], None),
            &[],
            &Probe::default(),
        )
        .await
    {
        Ok(facts) if facts.exit_code == Some(0) => {
            items.push(good("a test container runs (busybox:1.35 true)"))
        }
        Ok(facts) => items.push(bad(
            format!("a test container exited {:?}", facts.exit_code),
            "see the daemon's log",
        )),
        Err(e) => items.push(bad(
            format!("a test container does not run: {e:?}"),
            "see the daemon's log",
        )),
    }
    match engine
        .run(
            &format!("{name}-user"),
            "busybox:1.35",
            "",
            &run(&["id", "-u"], Some("1000:1000")),
            &[],
            &Probe::default(),
        )
        .await
    {
        Ok(facts) if facts.stdout.trim() == "1000" => {
            items.push(good("--user works (id -u printed 1000)"))
        }
        Ok(facts) => items.push(bad(
            format!("--user 1000:1000 ran as {:?}", facts.stdout.trim()),
            "user namespaces may be remapped; ask your instructor",
        )),
        Err(e) => items.push(bad(
            format!("--user does not work: {e:?}"),
            "see the daemon's log",
        )),
    }
    engine.cleanup().await;
    items
}

pub fn render(items: &[Item], color: bool) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_string()
        }
    };
    let mut out = String::new();
    for i in items {
        if i.ok {
            out.push_str(&format!("{} {}\n", paint("32", "✓"), i.what));
        } else {
            out.push_str(&format!("{} {}\n", paint("31", "✗"), i.what));
            if let Some(fix) = &i.fix {
                out.push_str(&format!("  → {fix}\n"));
            }
        }
    }
    let failed = items.iter().filter(|i| !i.ok).count();
    out.push_str(&if failed == 0 {
        "\nThis machine is ready for the course.\n".to_string()
    } else {
        format!("\n{failed} problem(s) to fix before the course.\n")
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_names_the_likely_cause() {
        assert!(
            unreachable_advice("unix:///nonexistent.sock", "No such file")
                .contains("no socket at /nonexistent.sock")
        );
        assert!(
            unreachable_advice(
                "unix:///var/run/docker.sock",
                "Permission denied (os error 13)"
            )
            .contains("docker group")
        );
    }

    #[test]
    fn the_report_ends_with_a_verdict() {
        let text = render(&[good("a"), bad("b", "do c")], false);
        assert_eq!(
            text,
            "✓ a\n✗ b\n  → do c\n\n1 problem(s) to fix before the course.\n"
        );
        assert!(render(&[good("a")], false).ends_with("This machine is ready for the course.\n"));
    }
}
