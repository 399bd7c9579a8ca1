//! `dockgrade doctor`: can this machine take the course?
//!
//! For a student before the workshop. Each item is one line, ✓ or ✗, and
//! when it fails, what to do about it. The checks go from the outside in:
//! can the daemon be reached at all, what is it, is there room, are the
//! course's images there (or can they be pulled), does a container run, does
//! `--user` work. The exit code is 0 only when the course can be taken.

use std::path::Path;
use std::time::Duration;

use crate::engine::{self, Engine, EngineError, RunRequest};
use crate::names;
use crate::report::Style;
use crate::sandbox::{Limits, Network, Sandbox};
use crate::spec::{Exercise, Mode, StepKind};
use crate::units::format_size;

/// The images every course machine needs, beyond those the exercises name.
const COURSE_IMAGES: [&str; 3] = ["busybox:1.35", "debian:bookworm-slim", "hello-world:latest"];

/// Free space below which builds of the course are likely to fail.
const MIN_FREE: u64 = 2_000_000_000;

/// One line of the diagnosis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
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
fn unreachable_advice(host: &str, message: &str) -> String {
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
pub(crate) async fn diagnose(exercises: &[Exercise]) -> Vec<Item> {
    let host = engine::docker_host();
    let engine = match Engine::connect(&names::new_run_id()).await {
        Ok(engine) => engine,
        Err(EngineError::Unreachable { message, .. }) => {
            return vec![bad(
                format!("the Docker daemon at {host} cannot be reached: {message}"),
                unreachable_advice(&host, &message),
            )];
        }
        Err(e) => return vec![bad(e.to_string(), "check the daemon's log")],
    };
    let mut items = daemon(&engine, &host).await;
    items.extend(images(&engine, exercises).await);
    items.extend(containers(&engine).await);
    engine.cleanup().await;
    items
}

/// What the daemon is, and whether it has room for the course.
async fn daemon(engine: &Engine, host: &str) -> Vec<Item> {
    let info = match engine.describe_daemon().await {
        Ok(info) => info,
        Err(e) => {
            return vec![bad(
                format!("the daemon does not describe itself: {e}"),
                "restart the daemon",
            )];
        }
    };
    let mut items = vec![good(format!(
        "the Docker daemon answers at {host}: Docker {} (API {}) on {}",
        info.version, info.api_version, info.operating_system
    ))];
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
    let root = &info.root_dir;
    items.push(if !Path::new(root).exists() {
        good(format!(
            "the daemon's storage ({root}) is on another machine or VM"
        ))
    } else {
        match fs4::available_space(root) {
            Ok(free) if free >= MIN_FREE => good(format!("{} free under {root}", format_size(free))),
            Ok(free) => bad(
                format!("only {} free under {root}", format_size(free)),
                "free at least 2 GB: `docker system prune` removes stopped containers and unused images",
            ),
            Err(e) => bad(format!("free space under {root} unknown: {e}"), "check with df"),
        }
    });
    items
}

/// The course's images are present, or can be pulled.
async fn images(engine: &Engine, exercises: &[Exercise]) -> Vec<Item> {
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
    let mut items = Vec::new();
    for image in &images {
        let found = match engine.find_image(image).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => engine
                .pull_image(image)
                .await
                .map_err(|e| format!("image {image} is not present and could not be pulled: {e}")),
            Err(e) => Err(format!("image {image}: {e}")),
        };
        items.push(match found {
            Ok(()) => good(format!("image {image} is present")),
            Err(why) => bad(
                why,
                format!("`docker pull {image}`; without a registry, ci/seed-images.sh builds local stand-ins"),
            ),
        });
    }
    items
}

/// A container runs, and runs as another user with `--user`.
async fn containers(engine: &Engine) -> Vec<Item> {
    let request = |step: &str, cmd: &[&str], user: Option<&str>| RunRequest {
        name: names::run_container(engine.run_id(), "doctor", step),
        image: "busybox:1.35".into(),
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        entrypoint: None,
        user: user.map(str::to_string),
        env: Default::default(),
        workdir: None,
        stdin: None,
        mounts: Vec::new(),
        sandbox: Sandbox::run(Limits::default(), Network::None, Duration::from_secs(30)),
        read_passwd: false,
        healthcheck: false,
    };
    let mut items = Vec::new();
    items.push(match engine.run(&request("run", &["true"], None)).await {
        Ok(facts) if facts.exit_code == Some(0) => {
            good("a test container runs (busybox:1.35 true)")
        }
        Ok(facts) => bad(
            format!("a test container exited {:?}", facts.exit_code),
            "see the daemon's log",
        ),
        Err(e) => bad(
            format!("a test container does not run: {e}"),
            "see the daemon's log",
        ),
    });
    let as_user = request("user", &["id", "-u"], Some("1000:1000"));
    items.push(match engine.run(&as_user).await {
        Ok(facts) if facts.stdout.trim() == "1000" => good("--user works (id -u printed 1000)"),
        Ok(facts) => bad(
            format!("--user 1000:1000 ran as {:?}", facts.stdout.trim()),
            "user namespaces may be remapped; ask your instructor",
        ),
        Err(e) => bad(format!("--user does not work: {e}"), "see the daemon's log"),
    });
    items
}

pub(crate) fn render(items: &[Item], style: Style) -> String {
    let paint = |code: &str, text: &str| style.paint(code, text);
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
        let text = render(&[good("a"), bad("b", "do c")], Style::new(false));
        assert_eq!(
            text,
            "✓ a\n✗ b\n  → do c\n\n1 problem(s) to fix before the course.\n"
        );
        assert!(
            render(&[good("a")], Style::new(false))
                .ends_with("This machine is ready for the course.\n")
        );
    }
}
