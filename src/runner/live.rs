//! Container steps of live exercises: a student's own container, by name.

use crate::engine::Engine;
use crate::observation::StepObservation;

/// Observes the container `name` on the student's daemon.
pub(super) async fn container_step(engine: &Engine, name: &str, o: &mut StepObservation) {
    match engine.container(name).await {
        Ok(facts) => o.container = Some(facts),
        Err(e) => o.status = super::status_of(e),
    }
}
