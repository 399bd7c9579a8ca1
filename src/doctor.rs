//! `dockgrade doctor`: can this machine take the course?
//!
//! For a student before the workshop. Each item is one line, ✓ or ✗, and
//! when it fails, what to do about it. The checks go from the outside in:
//! can the daemon be reached at all, what is it, is there room, are the
//! course's images there (or can they be pulled, within
//! [`PULL_TIMEOUT`]), does a container run, does `--user` work. The images
//! are those [`crate::prepare::needed_images`] lists, and a missing one
//! points to `dockgrade prepare` (which also loads them from an archive,
//! for machines without a registry). The exit code is 0 only when the
//! course can be taken.

use std::path::Path;
use std::time::Duration;

use crate::engine::{self, Engine, EngineError, RunRequest, TransferError};
use crate::names;
use crate::prepare::{CourseDockerfile, needed_images};
use crate::report::{Style, visible};
use crate::sandbox::{Limits, Network, Sandbox};
use crate::spec::Exercise;
use crate::units::{format_duration, format_size};

/// The images every course machine needs, beyond those the exercises name
/// (the test containers run busybox).
const COURSE_IMAGES: [&str; 3] = ["busybox:1.35", "debian:bookworm-slim", "hello-world:latest"];

/// How long a missing image's pull may take before doctor gives up on it
/// (a registry that does not answer, a DNS lookup that hangs).
const PULL_TIMEOUT: Duration = Duration::from_secs(60);

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

/// Runs every check; `exercises` and their course `dockerfiles` add the
/// images the course needs.
pub(crate) async fn diagnose(
    exercises: &[Exercise],
    dockerfiles: &[CourseDockerfile],
) -> Vec<Item> {
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
    items.extend(images(&engine, &needed_images(exercises, dockerfiles)).await);
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

/// The course's images are present, or can be pulled; `needed` are those
/// the exercises need (`dockgrade prepare` fetches them).
async fn images(engine: &Engine, needed: &[String]) -> Vec<Item> {
    let mut images: Vec<String> = COURSE_IMAGES.iter().map(|s| s.to_string()).collect();
    for image in needed {
        if !images.contains(image) {
            images.push(image.clone());
        }
    }
    let mut items = Vec::new();
    for image in &images {
        let found = match engine.find_image(image).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => engine
                .pull_with_progress(image, PULL_TIMEOUT, |_| {})
                .await
                .map_err(|e| {
                    let why = match e {
                        TransferError::TimedOut(t) => {
                            format!("no registry answered within {}", format_duration(t))
                        }
                        other => visible(&other.to_string()),
                    };
                    format!("image {image} is not present and could not be pulled: {why}")
                }),
            Err(e) => Err(format!("image {image}: {e}")),
        };
        items.push(match found {
            Ok(()) => good(format!("image {image} is present")),
            Err(why) => bad(why, missing_image_advice(image, needed.contains(image))),
        });
    }
    items
}

/// What to do about a missing image; `needed`: the course needs it, so
/// `dockgrade prepare` gets it.
fn missing_image_advice(image: &str, needed: bool) -> String {
    if needed {
        format!(
            "run `dockgrade prepare`: it pulls the course's images where a registry answers, or loads \
             them with `dockgrade prepare --from images.tar` (written by `dockgrade prepare --save \
             images.tar` on a machine that has them); or `docker pull {image}`"
        )
    } else {
        format!(
            "`docker pull {image}`; without a registry, `docker load` it from a machine that has it \
             (in a clone of dockgrade, ci/seed-images.sh builds local stand-ins)"
        )
    }
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
        network: None,
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
    fn a_missing_image_the_course_needs_points_to_prepare() {
        let advice = missing_image_advice("debian:bookworm-slim", true);
        assert!(advice.starts_with("run `dockgrade prepare`"), "{advice}");
        assert!(
            advice.contains("`dockgrade prepare --from images.tar`"),
            "{advice}"
        );
        assert!(
            advice.contains("`dockgrade prepare --save images.tar`"),
            "{advice}"
        );
        assert!(
            advice.ends_with("or `docker pull debian:bookworm-slim`"),
            "{advice}"
        );
        let other = missing_image_advice("busybox:1.35", false);
        assert!(other.starts_with("`docker pull busybox:1.35`"), "{other}");
        assert!(!other.contains("dockgrade prepare"), "{other}");
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
