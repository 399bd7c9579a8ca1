//! Build steps: collect the context (refusing what must not be sent, and
//! stopping as soon as it is over the step's `max_context`, before a byte is
//! sent), build, and inspect the image.

use std::path::{Path, PathBuf};

use tokio::sync::mpsc::UnboundedSender;

use crate::build_context::{self, BuildContext};
use crate::engine::{BuildOutcome, BuildRequest, Engine};
use crate::event::Event;
use crate::observation::{BuildFacts, StepObservation, StepStatus};
use crate::plan::PlannedStep;
use crate::spec::{BuildSource, BuildStep, Exercise};

/// Builds the image of a `build` step and observes it.
pub(super) async fn build_step(
    engine: &Engine,
    ex: &Exercise,
    planned: &PlannedStep,
    build: &BuildStep,
    stage: &crate::stage::Stage,
    events: &UnboundedSender<Event>,
    o: &mut StepObservation,
) {
    let roots: Vec<PathBuf> = match build.from {
        BuildSource::Submission => stage.roots().into_iter().map(Path::to_path_buf).collect(),
        BuildSource::Exercise => match stage.exercise_files() {
            Some(dir) => vec![dir.to_path_buf()],
            None => {
                o.status = StepStatus::Error(format!(
                    "the exercise has no files of its own (exercises/{}/)",
                    ex.id
                ));
                return;
            }
        },
    };
    let Some(ctx) = collect(roots, build, o).await else {
        return;
    };
    // Rules on the Dockerfile judge the text that was sent, built or not.
    let dockerfile = super::remote::read_dockerfile(&ctx)
        .ok()
        .map(|t| String::from_utf8_lossy(&t).into_owned());
    let dockerignore = ctx.entries.iter().any(|e| e.name == b".dockerignore");
    attempt(engine, ex, planned, build, ctx, events, o).await;
    let facts = o.build.get_or_insert_with(Default::default);
    facts.dockerfile = dockerfile;
    facts.dockerignore = dockerignore;
}

/// Builds the collected context (unless it names what must not be fetched)
/// and inspects the image.
async fn attempt(
    engine: &Engine,
    ex: &Exercise,
    planned: &PlannedStep,
    build: &BuildStep,
    ctx: BuildContext,
    events: &UnboundedSender<Event>,
    o: &mut StepObservation,
) {
    match super::remote::refused(engine, ex, build, &ctx).await {
        Ok(None) => {}
        Ok(Some(why)) => return not_attempted(o, why),
        Err(e) => {
            o.status = super::status_of(e);
            return;
        }
    }
    let request = BuildRequest {
        tag: planned.tag.clone().unwrap_or_default(),
        target: build.target.clone(),
        args: build.args.clone(),
        no_cache: build.no_cache,
        same_dockerfile_as: planned.same_dockerfile_as.clone(),
        cache_from: Vec::new(),
        sandbox: build.sandbox(),
    };
    let step = planned.step.name.as_str();
    let progress = |line: &str| {
        if line.starts_with("Step ") {
            let _ = events.send(Event::StepProgress {
                exercise: ex.id.clone(),
                step: step.to_string(),
                line: line.to_string(),
            });
        }
    };
    let outcome = build_again_if_the_cache_moved(engine, ctx, &request, &progress).await;
    o.build = Some(outcome.facts.clone());
    match (outcome.image_id, outcome.infrastructure_error) {
        (_, Some(infra)) => {
            o.status = StepStatus::Error(format!("the daemon failed during the build: {infra}"))
        }
        (Some(id), None) => match engine.built_image(&id, &planned.probe).await {
            Ok(mut facts) => {
                // On another grading's stages, a comparison of this image's
                // layers with the first build's could be wrong either way.
                facts.stages_differ = outcome.diverged.map(|d| d.why);
                o.image = Some(facts)
            }
            Err(e) => o.status = super::status_of(e),
        },
        (None, None) => {
            let why = outcome
                .facts
                .error
                .unwrap_or_else(|| "no image was produced".into());
            o.status = StepStatus::Failed(format!("build failed: {why}"));
        }
    }
}

/// Builds `ctx`, again when the failure was not the Dockerfile's:
/// - concurrent runs share the daemon's build cache, and one that ends
///   removes layers another may be reusing at that moment; the layer is
///   then gone from the cache, so the next build makes its own;
/// - the network or a package mirror failed (once more, after a pause: a
///   mirror that is syncing answers again within seconds);
/// - a directory copy was taken from another build's layer that the legacy
///   builder cannot tell from this one's (see `engine::copies`): built
///   again without the cache, which is this Dockerfile's true image;
/// - a step was handed another run's image instead of the one this run's
///   first build of the Dockerfile ended it on (see `engine::stages`):
///   built again from that build's images alone.
async fn build_again_if_the_cache_moved(
    engine: &Engine,
    ctx: BuildContext,
    request: &BuildRequest,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> BuildOutcome {
    let mut request = request.clone();
    let mut outcome = engine.build(ctx.clone(), &request, progress).await;
    let (mut cache_retries, mut network_retries, mut connection_retries) = (2, 1, 1);
    while !engine.is_cancelled() {
        // Stages first: built from the first build's images, the copies
        // are that build's, which it checked.
        if let Some(diverged) = &outcome.diverged
            && !diverged.sources.is_empty()
        {
            request.cache_from = diverged.sources.clone();
            tracing::debug!(
                "{}; building again from this run's first build of the Dockerfile",
                diverged.why
            );
        } else if let Some(why) = &outcome.borrowed_copy
            && !request.no_cache
        {
            request.no_cache = true;
            tracing::debug!("{why}; building again without the cache");
        } else if outcome.lost_a_cached_layer() && cache_retries > 0 {
            cache_retries -= 1;
            tracing::debug!("a cached layer was removed during the build; building again");
        } else if outcome.connection_broke() && connection_retries > 0 && engine.answers().await {
            connection_retries -= 1;
            tracing::warn!("the connection to the daemon broke during the build; building again");
        } else if outcome.network_failed() && network_retries > 0 {
            network_retries -= 1;
            tracing::warn!("the network failed during the build; building again in 5 s");
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        } else {
            break;
        }
        outcome = engine.build(ctx.clone(), &request, progress).await;
    }
    outcome
}

/// The build context from `roots`, or `None` with `o` saying why not.
async fn collect(
    roots: Vec<PathBuf>,
    build: &BuildStep,
    o: &mut StepObservation,
) -> Option<BuildContext> {
    let (ctx_rel, file_rel) = (build.context.clone(), build.dockerfile.clone());
    let max = build.max_context;
    let collected = tokio::task::spawn_blocking(move || {
        let roots: Vec<&Path> = roots.iter().map(PathBuf::as_path).collect();
        build_context::collect_layered(&roots, &ctx_rel, &file_rel, max)
    })
    .await;
    match collected {
        Ok(Ok(ctx)) => return Some(ctx),
        Ok(Err(e)) => not_attempted(o, e.to_string()),
        Err(e) => o.status = StepStatus::Error(format!("reading the build context: {e}")),
    }
    None
}

/// The submission made the build impossible before it started.
fn not_attempted(o: &mut StepObservation, why: String) {
    o.status = StepStatus::Failed(format!("build not attempted: {why}"));
    o.build = Some(BuildFacts {
        succeeded: false,
        error: Some(why),
        ..Default::default()
    });
}
