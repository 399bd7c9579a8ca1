//! Removing what dockgrade created: this run's resources after each exercise
//! and at the end, everything labelled as ours for `dockgrade clean`, and
//! what a replayed live case made that cannot carry a label (tags it added to
//! images that are not ours, what its builds left) for `validate`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bollard::errors::Error as DockerError;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, ListNetworksOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
    RemoveVolumeOptions,
};

use super::{Engine, EngineError, describe, is_not_found};
use crate::names::{LABEL, RUN_LABEL, run_filter};

/// How long cleanup waits for a build container the daemon is still busy
/// with (committing a large layer takes tens of seconds).
const BUILD_CONTAINER_WAIT: Duration = Duration::from_secs(120);

/// The kinds of resource dockgrade creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    Container,
    Image,
    Volume,
    /// Only a replayed live case creates networks (`docker network create`).
    Network,
}

impl Resource {
    fn noun(self) -> &'static str {
        match self {
            Resource::Container => "container",
            Resource::Image => "image",
            Resource::Volume => "volume",
            Resource::Network => "network",
        }
    }
}

/// How one removal went.
#[derive(Debug)]
pub(super) enum Removal {
    Removed,
    /// Already gone.
    Absent,
    /// An image another image is built on (a later build FROM it, perhaps
    /// another run's): it goes when they do.
    InUse,
    Failed(String),
}

impl Removal {
    pub(super) fn of(result: Result<(), DockerError>) -> Removal {
        match result {
            Ok(()) => Removal::Removed,
            Err(e) if is_not_found(&e) => Removal::Absent,
            Err(DockerError::DockerResponseServerError {
                status_code: 409,
                message,
            }) if message.contains("dependent child images") => Removal::InUse,
            Err(e) => Removal::Failed(describe(&e)),
        }
    }
}

/// What a cleanup removed, and what it could not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CleanupReport {
    pub containers: usize,
    pub images: usize,
    pub volumes: usize,
    pub networks: usize,
    /// Images kept because other images are built on them.
    pub in_use: usize,
    pub failures: Vec<String>,
    /// The daemon's answer when it could not list what carries the label:
    /// then nothing is known of what is left.
    pub listing_failure: Option<String>,
    /// The daemon stopped answering: what the run made there is left, for
    /// `dockgrade clean` once it is back.
    pub daemon_gone: bool,
}

impl CleanupReport {
    fn tally(&mut self, kind: Resource, what: &str, removal: Removal) {
        let count = match kind {
            Resource::Container => &mut self.containers,
            Resource::Image => &mut self.images,
            Resource::Volume => &mut self.volumes,
            Resource::Network => &mut self.networks,
        };
        match removal {
            Removal::Removed => *count += 1,
            Removal::Absent => {}
            Removal::InUse => self.in_use += 1,
            Removal::Failed(e) => self.failures.push(format!("{} {what}: {e}", kind.noun())),
        }
    }

    /// Says on stderr what could not be removed: once, when the daemon has
    /// gone, rather than once for each thing it still holds.
    pub fn warn(&self) {
        if self.daemon_gone {
            tracing::warn!(
                "the daemon stopped answering: what this run made there is left; \
                 `dockgrade clean` removes it once the daemon is back"
            );
            return;
        }
        for f in &self.failures {
            tracing::warn!("cleanup: could not remove {f}");
        }
    }

    fn add(&mut self, other: CleanupReport) {
        self.containers += other.containers;
        self.images += other.images;
        self.volumes += other.volumes;
        self.networks += other.networks;
        self.in_use += other.in_use;
        self.failures.extend(other.failures);
        self.listing_failure = self.listing_failure.take().or(other.listing_failure);
        self.daemon_gone |= other.daemon_gone;
    }
}

/// A resource as a listing shows it.
struct Listed {
    id: String,
    labels: HashMap<String, String>,
    /// An image without a tag: a layer of some build.
    untagged: bool,
}

/// What one run left on the daemon, with the labels that say whose it is.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunOnDaemon {
    /// The run id; empty for resources of versions that did not label runs.
    pub run: String,
    /// The labels of one of its resources (they all carry the same).
    pub labels: HashMap<String, String>,
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    pub images: Vec<String>,
}

impl RunOnDaemon {
    /// Containers, images, volumes and networks, for messages.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        (
            self.containers.len(),
            self.images.len(),
            self.volumes.len(),
            self.networks.len(),
        )
    }
}

impl Engine {
    /// Removes one resource: containers forced with their anonymous volumes,
    /// images forced (their containers are gone first), volumes forced.
    async fn remove(&self, kind: Resource, id: &str) -> Removal {
        let result = match kind {
            Resource::Container => {
                let options = RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .v(true)
                    .build();
                self.docker.remove_container(id, Some(options)).await
            }
            Resource::Image => {
                // An image's untagged parents go with it, unless the build
                // cache is kept: then they are the cache (see `kept`).
                let options = RemoveImageOptionsBuilder::default()
                    .force(true)
                    .noprune(self.kept.is_some())
                    .build();
                self.docker
                    .remove_image(id, Some(options), None)
                    .await
                    .map(|_| ())
            }
            Resource::Volume => {
                self.docker
                    .remove_volume(id, Some(RemoveVolumeOptions { force: true }))
                    .await
            }
            Resource::Network => self.docker.remove_network(id).await,
        };
        Removal::of(result)
    }

    /// Removes a container this run created and forgets it.
    pub(super) async fn dispose_container(&self, id: &str) {
        match self.remove(Resource::Container, id).await {
            Removal::Failed(e) => tracing::warn!("could not remove container {id}: {e}"),
            _ => self.record(|c| c.containers.retain(|x| x != id)),
        }
    }

    /// Removes a layer image a build left, if nothing tagged it since.
    async fn remove_untagged(&self, id: &str) {
        if let Ok(image) = self.docker.inspect_image(id).await
            && image.repo_tags.unwrap_or_default().is_empty()
        {
            let _ = self
                .docker
                .remove_image(id, Some(RemoveImageOptionsBuilder::default().build()), None)
                .await;
        }
    }

    /// Removes everything this run created: what it recorded, then anything
    /// else carrying this run's label (a create whose answer was lost).
    pub async fn cleanup(&self) -> CleanupReport {
        let created = self
            .created
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default();
        let mut report = CleanupReport::default();
        // No build of this process is running while images go (see
        // `CACHE_GUARD`): none can be reusing a layer removed here.
        let _removing = super::CACHE_GUARD.write().await;
        for id in &created.containers {
            report.tally(
                Resource::Container,
                id,
                self.remove(Resource::Container, id).await,
            );
        }
        // A push's references go first: the image they name stays while
        // another reference (its dockgrade tag) remains, and goes next.
        report.add(self.remove_references(&created.references).await);
        for id in &created.images {
            report.tally(Resource::Image, id, self.remove(Resource::Image, id).await);
        }
        for id in &created.networks {
            report.tally(
                Resource::Network,
                id,
                self.remove(Resource::Network, id).await,
            );
        }
        // A build cut short can leave its RUN container behind.
        for id in &created.build_containers {
            report.tally(
                Resource::Container,
                id,
                self.remove_build_container(id).await,
            );
        }
        // Labelled layers of this run (the builder's LABEL steps) first:
        // with the cache kept, removing them leaves their parents.
        report.add(self.sweep(&run_filter(&self.run_id)).await);
        match &self.kept {
            Some(kept) => {
                kept.unpin(&self.run_id);
                self.keep_layers(kept, &created.layers).await;
            }
            // Children first: a stage's layers were reported after its parents'.
            None => {
                for id in created.layers.iter().rev() {
                    self.remove_untagged(id).await;
                }
            }
        }
        if !report.failures.is_empty() || report.listing_failure.is_some() {
            report.daemon_gone = !self.answers().await;
        }
        report
    }

    /// Removes image references (`repo:tag`) something of ours created on
    /// images that are not ours: the tag goes, the image stays while other
    /// references to it remain.
    pub async fn remove_references(&self, references: &[String]) -> CleanupReport {
        let mut report = CleanupReport::default();
        for reference in references {
            let options = RemoveImageOptionsBuilder::default().noprune(true).build();
            let result = self
                .docker
                .remove_image(reference, Some(options), None)
                .await
                .map(|_| ());
            report.tally(Resource::Image, reference, Removal::of(result));
        }
        report
    }

    /// Removes what a build run outside the engine (a replayed `docker
    /// build`) reported creating and could not label: the containers of its
    /// steps (a failed step's stays behind), then its layers, children first,
    /// each only while nothing tags it. The labelled final image is not
    /// among them: the sweep of the run's label removes it.
    pub async fn remove_build_debris(
        &self,
        containers: &[String],
        layers: &[String],
    ) -> CleanupReport {
        let mut report = CleanupReport::default();
        for id in containers {
            report.tally(
                Resource::Container,
                id,
                self.remove(Resource::Container, id).await,
            );
        }
        for id in layers.iter().rev() {
            self.remove_untagged(id).await;
        }
        report
    }

    /// Kills and removes a build's RUN container, retrying while the daemon
    /// is busy with it, until it is gone or the wait runs out.
    async fn remove_build_container(&self, id: &str) -> Removal {
        let deadline = Instant::now() + BUILD_CONTAINER_WAIT;
        loop {
            self.kill(id).await;
            match self.remove(Resource::Container, id).await {
                // Busy is worth waiting for; a daemon that is gone is not.
                Removal::Failed(_) if Instant::now() < deadline && self.answers().await => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                removal => return removal,
            }
        }
    }

    /// Everything labelled as dockgrade's on the daemon, by run; untagged
    /// layers that carry no run only with `build_layers` (see below).
    pub async fn runs_on_daemon(
        &self,
        build_layers: bool,
    ) -> Result<Vec<RunOnDaemon>, EngineError> {
        let mut runs: BTreeMap<String, RunOnDaemon> = BTreeMap::new();
        for kind in [
            Resource::Container,
            Resource::Network,
            Resource::Volume,
            Resource::Image,
        ] {
            let listed = self
                .list(kind, LABEL)
                .await
                .map_err(|e| EngineError::Daemon(describe(&e)))?;
            for l in listed {
                let run_id = l.labels.get(RUN_LABEL).cloned().unwrap_or_default();
                // The builder adds dockgrade's labels one LABEL step at a
                // time: the layers of the first steps carry some of them but
                // no run. They are not an earlier version's leftovers but
                // layers of a build, which go with the image built on them
                // or with the build cache that keeps them (`kept`), perhaps
                // a batch's still running.
                // `--all` takes them too: a killed batch's journal may be
                // on another machine.
                if run_id.is_empty() && l.untagged && !build_layers {
                    continue;
                }
                let run = runs.entry(run_id.clone()).or_insert_with(|| RunOnDaemon {
                    run: run_id,
                    labels: l.labels.clone(),
                    ..Default::default()
                });
                match kind {
                    Resource::Container => run.containers.push(l.id),
                    Resource::Network => run.networks.push(l.id),
                    Resource::Volume => run.volumes.push(l.id),
                    Resource::Image => run.images.push(l.id),
                }
            }
        }
        Ok(runs.into_values().collect())
    }

    /// Removes what a run left: containers, then networks and volumes, then
    /// images.
    pub async fn remove_run(&self, run: &RunOnDaemon) -> CleanupReport {
        let mut report = CleanupReport::default();
        for (kind, ids) in [
            (Resource::Container, &run.containers),
            (Resource::Network, &run.networks),
            (Resource::Volume, &run.volumes),
            (Resource::Image, &run.images),
        ] {
            self.remove_all(kind, ids.clone(), &mut report).await;
        }
        report
    }

    /// Removes whatever carries `label`: containers, then the networks and
    /// volumes they used, then images.
    async fn sweep(&self, label: &str) -> CleanupReport {
        let mut report = CleanupReport::default();
        for kind in [
            Resource::Container,
            Resource::Network,
            Resource::Volume,
            Resource::Image,
        ] {
            match self.list(kind, label).await {
                Ok(listed) => {
                    let ids = listed.into_iter().map(|l| l.id).collect();
                    self.remove_all(kind, ids, &mut report).await
                }
                Err(e) => {
                    let message = describe(&e);
                    report
                        .failures
                        .push(format!("listing {}s: {message}", kind.noun()));
                    report.listing_failure.get_or_insert(message);
                }
            }
        }
        report
    }

    /// Removes `ids`, in passes while some go: an image built on another
    /// labelled one (a replay's `FROM` its own earlier build) holds its
    /// parent until its own turn comes.
    async fn remove_all(&self, kind: Resource, ids: Vec<String>, report: &mut CleanupReport) {
        let mut pending = ids;
        loop {
            let tried = pending.len();
            let mut refused = Vec::new();
            for id in pending {
                match self.remove(kind, &id).await {
                    removal @ (Removal::Failed(_) | Removal::InUse) => refused.push((id, removal)),
                    removal => report.tally(kind, &id, removal),
                }
            }
            if refused.is_empty() || refused.len() == tried {
                for (id, removal) in refused {
                    report.tally(kind, &id, removal);
                }
                return;
            }
            pending = refused.into_iter().map(|(id, _)| id).collect();
        }
    }

    /// The resources of `kind` that carry `label`, with their labels. An image
    /// listing includes intermediate layers: a build's labelled layers are
    /// ours too.
    async fn list(&self, kind: Resource, label: &str) -> Result<Vec<Listed>, DockerError> {
        let filters = HashMap::from([("label", vec![label])]);
        let listed = |id: String, labels: Option<HashMap<String, String>>| Listed {
            id,
            labels: labels.unwrap_or_default(),
            untagged: false,
        };
        Ok(match kind {
            Resource::Container => {
                let options = ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build();
                let list = self.docker.list_containers(Some(options)).await?;
                list.into_iter()
                    .filter_map(|c| Some(listed(c.id?, c.labels)))
                    .collect()
            }
            Resource::Image => {
                let options = ListImagesOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build();
                let list = self.docker.list_images(Some(options)).await?;
                list.into_iter()
                    .map(|i| Listed {
                        untagged: i.repo_tags.iter().all(|t| t == "<none>:<none>"),
                        ..listed(i.id, Some(i.labels))
                    })
                    .collect()
            }
            Resource::Volume => {
                let options = ListVolumesOptionsBuilder::default()
                    .filters(&filters)
                    .build();
                let list = self.docker.list_volumes(Some(options)).await?;
                list.volumes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|v| listed(v.name, Some(v.labels)))
                    .collect()
            }
            Resource::Network => {
                let options = ListNetworksOptionsBuilder::default()
                    .filters(&filters)
                    .build();
                let list = self.docker.list_networks(Some(options)).await?;
                list.into_iter()
                    .filter_map(|n| Some(listed(n.id?, n.labels)))
                    .collect()
            }
        })
    }
}
