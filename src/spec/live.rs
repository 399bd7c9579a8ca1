//! What live exercises expect of the student's own daemon: an existing
//! container (state, image, user, mounts, ports) and the daemon itself.

/// What the daemon must be; only the listed facts are compared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonExpectation {
    pub rootless: Option<bool>,
    pub storage_driver: Option<String>,
    /// Security options it must have, by name (`seccomp`, `rootless`).
    pub security_options: Vec<String>,
}

/// What an existing container must look like; only listed fields are compared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerExpectation {
    /// `created`, `running`, `exited`, …
    pub state: Option<String>,
    pub exit_code: Option<i64>,
    /// The image as the container was started from it (`docker_intro:v0.1`).
    pub image: Option<String>,
    /// The `--user` it was started with, e.g. `1000:1000`.
    pub user: Option<String>,
    pub mounts: Vec<MountExpectation>,
    pub ports: Vec<PortExpectation>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountExpectation {
    pub target: String,
    /// `bind`, `volume`, `tmpfs`.
    pub kind: Option<String>,
    /// The last component of the source path (host paths differ per student).
    pub source_name: Option<String>,
    pub readonly: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortExpectation {
    /// `80/tcp`.
    pub container: String,
    pub host_ip: Option<String>,
    pub host_port: Option<u16>,
}
