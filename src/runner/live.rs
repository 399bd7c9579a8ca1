//! Container steps of live exercises: a student's own container, by name.

use crate::engine::Engine;
use crate::observation::StepObservation;
use crate::plan::Probe;

/// Observes the container `name` on the student's daemon, and the ids of
/// the images its checks name.
pub(super) async fn container_step(
    engine: &Engine,
    name: &str,
    probe: &Probe,
    o: &mut StepObservation,
) {
    let mut facts = match engine.container(name).await {
        Ok(facts) => facts,
        Err(e) => {
            o.status = super::status_of(e);
            return;
        }
    };
    for reference in &probe.images {
        match engine.image_id(reference).await {
            Ok(Some(id)) => {
                facts.image_ids.insert(reference.clone(), id);
            }
            Ok(None) => {}
            Err(e) => {
                o.status = super::status_of(e);
                return;
            }
        }
    }
    o.container = Some(facts);
}
