//! Live exercises: what a student's own container looks like, read only.

use super::{Engine, StepError, is_not_found};
use crate::observation::{ContainerFacts, MountFacts};

impl Engine {
    /// Looks at an existing container by name (live exercises): read only.
    pub async fn container(&self, name: &str) -> Result<ContainerFacts, StepError> {
        let inspect = match self.docker.inspect_container(name, None).await {
            Ok(i) => i,
            Err(e) if is_not_found(&e) => {
                return Err(StepError::Submission(format!(
                    "there is no container named `{name}`: start it with `--name {name}`, and without `--rm`"
                )));
            }
            Err(e) => return Err(StepError::daemon("inspecting the container", e)),
        };
        let state = inspect.state.unwrap_or_default();
        let config = inspect.config.unwrap_or_default();
        let mut ports = Vec::new();
        for (port, bindings) in inspect
            .host_config
            .and_then(|h| h.port_bindings)
            .unwrap_or_default()
        {
            for b in bindings.unwrap_or_default() {
                ports.push((
                    port.clone(),
                    b.host_ip.unwrap_or_default(),
                    b.host_port.and_then(|p| p.parse().ok()),
                ));
            }
        }
        ports.sort();
        Ok(ContainerFacts {
            name: name.to_string(),
            state: state.status.map(|s| s.to_string()).unwrap_or_default(),
            exit_code: state.exit_code,
            image: config.image.unwrap_or_default(),
            image_id: inspect.image.unwrap_or_default(),
            image_ids: Default::default(),
            user: config.user.unwrap_or_default(),
            mounts: inspect
                .mounts
                .unwrap_or_default()
                .into_iter()
                .map(|m| MountFacts {
                    kind: m.typ.map(|t| t.to_string()).unwrap_or_default(),
                    source: m.source.unwrap_or_default(),
                    target: m.destination.unwrap_or_default(),
                    readonly: !m.rw.unwrap_or(true),
                })
                .collect(),
            ports,
        })
    }
}
