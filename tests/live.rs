//! Live exercises: checks of a container the student started on their own
//! daemon, found by name. The test starts the container itself.

mod common;

use common::{Workspace, check_named, docker};

fn spec(name: &str, user: &str) -> String {
    format!(
        "id = \"live\"\ntitle = \"Live\"\nmode = \"live\"\n\
         [[steps]]\nname = \"c\"\ncontainer = \"{name}\"\n\
         [[checks]]\nname = \"started as the right user from busybox\"\nstep = \"c\"\n\
         container = {{ image = \"busybox:1.35\", user = \"{user}\", state = \"exited\", exit_code = 0, \
         mounts = [{{ type = \"bind\", source_name = \"data.txt\", target = \"/data.txt\", readonly = true }}], \
         ports = [{{ container = \"8080\", host_ip = \"127.0.0.1\", host_port = 18080 }}] }}\n"
    )
}

#[test]
fn a_live_container_check_passes_and_fails_on_what_the_student_did() {
    let ws = Workspace::new();
    ws.write("data.txt", "data\n");
    let name = format!("dockgrade-live-test-{}", std::process::id());
    let mount = format!(
        "type=bind,source={},target=/data.txt,readonly",
        ws.path("data.txt").display()
    );
    let run = docker(&[
        "container",
        "run",
        "--name",
        &name,
        "--label",
        "io.dockgrade=1",
        "--user",
        "1000:1000",
        "--mount",
        &mount,
        "-p",
        "127.0.0.1:18080:8080",
        "busybox:1.35",
        "cat",
        "/data.txt",
    ]);
    let result = std::panic::catch_unwind(|| {
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        ws.write("exercises/live.toml", spec(&name, "1000:1000"));
        let (code, stdout, _) = ws.check(&[]);
        assert_eq!(code, 0, "{stdout}");

        ws.write("exercises/live.toml", spec(&name, "2000:2000"));
        let (code, stdout, report) = ws.check(&[]);
        assert_eq!(code, 1, "{stdout}");
        let c = check_named(&report, "started as the right user from busybox");
        let part = |key: &str| {
            c[key]
                .as_str()
                .expect(key)
                .split(", ")
                .find(|p| p.starts_with("user"))
                .map(str::to_string)
        };
        assert_eq!(part("expected").as_deref(), Some("user \"2000:2000\""));
        assert_eq!(part("actual").as_deref(), Some("user \"1000:1000\""));

        // A container that is not there is the student's failure, with a hint.
        ws.write(
            "exercises/live.toml",
            spec("no-such-container-here", "1000:1000"),
        );
        let (code, _, report) = ws.check(&[]);
        assert_eq!(code, 1);
        let c = check_named(&report, "started as the right user from busybox");
        assert!(
            c["message"]
                .as_str()
                .expect("message")
                .contains("--name no-such-container-here"),
            "{c:#}"
        );
    });
    let _ = docker(&["rm", "-f", &name]);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn a_live_exercise_may_not_build() {
    let ws = Workspace::new();
    ws.write(
        "exercises/live.toml",
        "id = \"live\"\ntitle = \"Live\"\nmode = \"live\"\n[[steps]]\nname = \"b\"\nbuild = { dockerfile = \"Dockerfile\" }\n\
         [[checks]]\nname = \"c\"\nstep = \"b\"\nbuild = \"succeeds\"\n",
    );
    let out = ws.dockgrade().arg("lint").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("a live exercise can only have `image`, `container` and `run` steps")
    );
}
