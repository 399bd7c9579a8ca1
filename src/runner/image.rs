//! Image steps: a named image, found or pulled as the step's policy says.

use crate::engine::{Engine, StepError};
use crate::observation::{ImageFacts, Observations, StepObservation, StepStatus};
use crate::plan::Probe;
use crate::spec::{ImageSource, PullPolicy};

/// Observes the image `reference` for an `image` step.
pub(super) async fn image_step(
    engine: &Engine,
    reference: &str,
    pull: PullPolicy,
    probe: &Probe,
    o: &mut StepObservation,
) {
    match named_image(engine, reference, pull, probe).await {
        Ok(facts) => o.image = Some(facts),
        Err(e) => o.status = super::status_of(e),
    }
}

/// The id and USER of the image a run or a service starts from: another
/// step's (which must have made one), or a reference found or pulled if
/// missing. `Err` is the status the step ends with.
pub(super) async fn source_image(
    engine: &Engine,
    source: &ImageSource,
    done: &Observations,
) -> Result<(String, String), StepStatus> {
    match source {
        ImageSource::Step(step) => match done.steps.get(step).and_then(|s| s.image.as_ref()) {
            Some(img) => Ok((img.id.clone(), img.config.user.clone())),
            None => Err(StepStatus::Skipped(format!(
                "not run: step `{step}` has no image"
            ))),
        },
        ImageSource::Reference(reference) => {
            named_image(engine, reference, PullPolicy::Missing, &Probe::default())
                .await
                .map(|img| (img.id, img.config.user))
                .map_err(super::status_of)
        }
    }
}

/// Finds `reference`, pulling as `pull` says, and probes what its checks
/// need. The image is inspected once (twice when it was just pulled).
pub(super) async fn named_image(
    engine: &Engine,
    reference: &str,
    pull: PullPolicy,
    probe: &Probe,
) -> Result<ImageFacts, StepError> {
    let found = engine.find_image(reference).await?;
    let must_pull = match pull {
        PullPolicy::Always => true,
        PullPolicy::Missing => found.is_none(),
        PullPolicy::Never => false,
    };
    let image = match (found, must_pull) {
        (Some(image), false) => image,
        (None, false) => {
            return Err(StepError::Submission(format!(
                "image `{reference}` is not present (pull = \"never\")"
            )));
        }
        (found, true) => match (engine.pull_image(reference).await, found) {
            (Ok(()), _) => engine.find_image(reference).await?.ok_or_else(|| {
                StepError::Infrastructure(format!(
                    "image `{reference}` vanished right after its pull"
                ))
            })?,
            // "always", but the registry is away: the local copy serves.
            (Err(_), Some(image)) => image,
            (Err(e), None) => {
                return Err(StepError::Submission(format!(
                    "image `{reference}` is not present and could not be pulled: {e}"
                )));
            }
        },
    };
    engine.image_facts(image, probe).await
}
