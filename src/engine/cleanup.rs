//! Removing what dockgrade created: this run's resources after each exercise
//! and at the end, everything labelled as ours for `dockgrade clean`, and
//! what a replayed live case created for `validate` (by comparing snapshots).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bollard::errors::Error as DockerError;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder, RemoveVolumeOptions,
};

use super::{Engine, EngineError, describe, is_not_found};

/// How long cleanup waits for a build container the daemon is still busy
/// with (committing a large layer takes tens of seconds).
const BUILD_CONTAINER_WAIT: Duration = Duration::from_secs(120);
use crate::names::{LABEL, RUN_LABEL, run_filter};

/// The kinds of resource dockgrade creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    Container,
    Image,
    Volume,
}

impl Resource {
    fn noun(self) -> &'static str {
        match self {
            Resource::Container => "container",
            Resource::Image => "image",
            Resource::Volume => "volume",
        }
    }
}

/// How one removal went.
#[derive(Debug)]
enum Removal {
    Removed,
    /// Already gone.
    Absent,
    Failed(String),
}

impl Removal {
    fn of(result: Result<(), DockerError>) -> Removal {
        match result {
            Ok(()) => Removal::Removed,
            Err(e) if is_not_found(&e) => Removal::Absent,
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
    pub failures: Vec<String>,
}

impl CleanupReport {
    fn tally(&mut self, kind: Resource, what: &str, removal: Removal) {
        let count = match kind {
            Resource::Container => &mut self.containers,
            Resource::Image => &mut self.images,
            Resource::Volume => &mut self.volumes,
        };
        match removal {
            Removal::Removed => *count += 1,
            Removal::Absent => {}
            Removal::Failed(e) => self.failures.push(format!("{} {what}: {e}", kind.noun())),
        }
    }

    fn add(&mut self, other: CleanupReport) {
        self.containers += other.containers;
        self.images += other.images;
        self.volumes += other.volumes;
        self.failures.extend(other.failures);
    }
}

/// Container and image ids present at one moment.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    containers: HashSet<String>,
    images: HashSet<String>,
}

/// A resource as a listing shows it.
struct Listed {
    id: String,
    /// Carries dockgrade's label.
    ours: bool,
    labels: HashMap<String, String>,
}

/// What one run left on the daemon, with the labels that say whose it is.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunOnDaemon {
    /// The run id; empty for resources of versions that did not label runs.
    pub run: String,
    /// The labels of one of its resources (they all carry the same).
    pub labels: HashMap<String, String>,
    pub containers: Vec<String>,
    pub volumes: Vec<String>,
    pub images: Vec<String>,
}

impl RunOnDaemon {
    /// Containers, images and volumes, for messages.
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.containers.len(), self.images.len(), self.volumes.len())
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
                let options = RemoveImageOptionsBuilder::default().force(true).build();
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
        for (kind, ids) in [
            (Resource::Container, &created.containers),
            (Resource::Image, &created.images),
        ] {
            for id in ids {
                report.tally(kind, id, self.remove(kind, id).await);
            }
        }
        // A build cut short can leave its RUN container behind.
        for id in &created.build_containers {
            report.tally(
                Resource::Container,
                id,
                self.remove_build_container(id).await,
            );
        }
        // Children first: a stage's layers were reported after its parents'.
        for id in created.layers.iter().rev() {
            self.remove_untagged(id).await;
        }
        report.add(self.sweep(&run_filter(&self.run_id)).await);
        report
    }

    /// Kills and removes a build's RUN container, retrying while the daemon
    /// is busy with it, until it is gone or the wait runs out.
    async fn remove_build_container(&self, id: &str) -> Removal {
        let deadline = Instant::now() + BUILD_CONTAINER_WAIT;
        loop {
            self.kill(id).await;
            match self.remove(Resource::Container, id).await {
                Removal::Failed(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                removal => return removal,
            }
        }
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

    /// Everything labelled as dockgrade's on the daemon, by run.
    pub async fn runs_on_daemon(&self) -> Result<Vec<RunOnDaemon>, EngineError> {
        let mut runs: std::collections::BTreeMap<String, RunOnDaemon> = Default::default();
        for kind in [Resource::Container, Resource::Volume, Resource::Image] {
            let listed = self
                .list(kind, Some(LABEL))
                .await
                .map_err(|e| EngineError::Daemon(describe(&e)))?;
            for l in listed {
                let run_id = l.labels.get(RUN_LABEL).cloned().unwrap_or_default();
                let run = runs.entry(run_id.clone()).or_insert_with(|| RunOnDaemon {
                    run: run_id,
                    labels: l.labels.clone(),
                    ..Default::default()
                });
                match kind {
                    Resource::Container => run.containers.push(l.id),
                    Resource::Volume => run.volumes.push(l.id),
                    Resource::Image => run.images.push(l.id),
                }
            }
        }
        Ok(runs.into_values().collect())
    }

    /// Removes what a run left: containers, then volumes, then images.
    pub async fn remove_run(&self, run: &RunOnDaemon) -> CleanupReport {
        let mut report = CleanupReport::default();
        for (kind, ids) in [
            (Resource::Container, &run.containers),
            (Resource::Volume, &run.volumes),
            (Resource::Image, &run.images),
        ] {
            for id in ids {
                report.tally(kind, id, self.remove(kind, id).await);
            }
        }
        report
    }

    /// The ids of every container and image on the daemon now.
    pub async fn snapshot(&self) -> Result<Snapshot, EngineError> {
        let daemon = |e: DockerError| EngineError::Daemon(describe(&e));
        let ids = |list: Vec<Listed>| list.into_iter().map(|l| l.id).collect();
        Ok(Snapshot {
            containers: ids(self.list(Resource::Container, None).await.map_err(daemon)?),
            images: ids(self.list(Resource::Image, None).await.map_err(daemon)?),
        })
    }

    /// Removes the containers and images created since `before` that do not
    /// carry dockgrade's label (those belong to runs that clean up after
    /// themselves): what a replayed `commands.sh` made.
    pub async fn remove_since(&self, before: &Snapshot) -> CleanupReport {
        let mut report = CleanupReport::default();
        self.remove_listed(Resource::Container, None, &mut report, |l| {
            !l.ours && !before.containers.contains(&l.id)
        })
        .await;
        self.remove_listed(Resource::Image, None, &mut report, |l| {
            !l.ours && !before.images.contains(&l.id)
        })
        .await;
        report
    }

    /// Removes whatever carries `label`: containers, then volumes, then images.
    async fn sweep(&self, label: &str) -> CleanupReport {
        let mut report = CleanupReport::default();
        for kind in [Resource::Container, Resource::Volume, Resource::Image] {
            self.remove_listed(kind, Some(label), &mut report, |_| true)
                .await;
        }
        report
    }

    /// Lists resources of `kind` (with `label`, if given) and removes those
    /// `wanted` selects, tallying into `report`.
    async fn remove_listed(
        &self,
        kind: Resource,
        label: Option<&str>,
        report: &mut CleanupReport,
        wanted: impl Fn(&Listed) -> bool,
    ) {
        match self.list(kind, label).await {
            Ok(list) => {
                for l in list.iter().filter(|l| wanted(l)) {
                    report.tally(kind, &l.id, self.remove(kind, &l.id).await);
                }
            }
            Err(e) => report
                .failures
                .push(format!("listing {}s: {}", kind.noun(), describe(&e))),
        }
    }

    /// Resources of `kind`, only those carrying `label` when given. A
    /// labelled image listing includes intermediate layers: a build's
    /// labelled layers are ours too.
    async fn list(&self, kind: Resource, label: Option<&str>) -> Result<Vec<Listed>, DockerError> {
        let filters = label.map(|l| HashMap::from([("label", vec![l])]));
        let ours = |labels: Option<&HashMap<String, String>>| {
            labels.is_some_and(|l| l.contains_key(LABEL))
        };
        Ok(match kind {
            Resource::Container => {
                let mut options = ListContainersOptionsBuilder::default().all(true);
                if let Some(f) = &filters {
                    options = options.filters(f);
                }
                let list = self.docker.list_containers(Some(options.build())).await?;
                list.into_iter()
                    .filter_map(|c| {
                        let labels = c.labels.unwrap_or_default();
                        let ours = ours(Some(&labels));
                        c.id.map(|id| Listed { id, ours, labels })
                    })
                    .collect()
            }
            Resource::Image => {
                let mut options = ListImagesOptionsBuilder::default().all(label.is_some());
                if let Some(f) = &filters {
                    options = options.filters(f);
                }
                let list = self.docker.list_images(Some(options.build())).await?;
                list.into_iter()
                    .map(|i| Listed {
                        ours: ours(Some(&i.labels)),
                        id: i.id,
                        labels: i.labels,
                    })
                    .collect()
            }
            Resource::Volume => {
                let mut options = ListVolumesOptionsBuilder::default();
                if let Some(f) = &filters {
                    options = options.filters(f);
                }
                let list = self.docker.list_volumes(Some(options.build())).await?;
                list.volumes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|v| Listed {
                        ours: ours(Some(&v.labels)),
                        id: v.name,
                        labels: v.labels,
                    })
                    .collect()
            }
        })
    }
}
