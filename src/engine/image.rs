//! Images: find one by name or id, pull one, and turn an inspection into
//! [`ImageFacts`] (config, size, layers, and the files its checks probe).
//!
//! Whether to pull is the caller's decision (a step's pull policy); here an
//! image is inspected once and everything else is read from that answer.

use bollard::models::ImageInspect;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::TryStreamExt;

use super::{Engine, StepError, describe, is_not_found};
use crate::observation::{ImageConfig, ImageFacts};
use crate::plan::Probe;

/// An image the daemon has, as it was inspected.
#[derive(Debug)]
pub(crate) struct FoundImage(ImageInspect);

impl Engine {
    /// Inspects `reference` (a name or an id); `None` when the daemon has no
    /// such image.
    pub async fn find_image(&self, reference: &str) -> Result<Option<FoundImage>, StepError> {
        match self.docker.inspect_image(reference).await {
            Ok(i) => Ok(Some(FoundImage(i))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(StepError::daemon("inspecting the image", e)),
        }
    }

    /// The id of the image `reference` names, if the daemon has it.
    pub async fn image_id(&self, reference: &str) -> Result<Option<String>, StepError> {
        Ok(self.find_image(reference).await?.and_then(|i| i.0.id))
    }

    /// Pulls `reference` from its registry; the error says why not.
    pub async fn pull_image(&self, reference: &str) -> Result<(), String> {
        let options = CreateImageOptionsBuilder::default()
            .from_image(reference)
            .build();
        self.docker
            .create_image(Some(options), None, None)
            .try_collect::<Vec<_>>()
            .await
            .map(|_| ())
            .map_err(|e| describe(&e))
    }

    /// Inspects an image dockgrade built (by id) and probes what its checks need.
    pub async fn built_image(&self, id: &str, probe: &Probe) -> Result<ImageFacts, StepError> {
        match self.find_image(id).await? {
            Some(image) => self.image_facts(image, probe).await,
            None => Err(StepError::Infrastructure(format!(
                "the image just built ({id}) is gone"
            ))),
        }
    }

    /// The facts of an inspected image, with the files `probe` asks for.
    pub async fn image_facts(
        &self,
        image: FoundImage,
        probe: &Probe,
    ) -> Result<ImageFacts, StepError> {
        let mut facts = facts_of(image.0);
        if !probe.is_empty() {
            self.probe_image_files(probe, &mut facts).await?;
        }
        if probe.history {
            facts.history = Some(self.image_history(&facts.id).await?);
        }
        if probe.layers {
            facts.contents = Some(self.layer_contents(&facts.id).await?);
        }
        Ok(facts)
    }
}

/// What one inspection tells about an image.
fn facts_of(inspect: ImageInspect) -> ImageFacts {
    let config = inspect.config.unwrap_or_default();
    let mut exposed = config.exposed_ports.unwrap_or_default();
    exposed.sort();
    ImageFacts {
        stages_differ: None,
        id: inspect.id.unwrap_or_default(),
        size: inspect.size.unwrap_or(0).max(0) as u64,
        layers: inspect.root_fs.and_then(|r| r.layers).unwrap_or_default(),
        config: ImageConfig {
            user: config.user.unwrap_or_default(),
            workdir: config.working_dir.unwrap_or_default(),
            cmd: config.cmd,
            entrypoint: config.entrypoint,
            env: config.env.unwrap_or_default(),
            labels: config.labels.unwrap_or_default().into_iter().collect(),
            exposed_ports: exposed,
        },
        files: Default::default(),
        passwd: None,
        history: None,
        contents: None,
    }
}
