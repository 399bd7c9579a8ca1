//! Run steps: the image (another step's or a named one), the mounts checked
//! against the submission, and the container run in its sandbox.

use crate::build_context;
use crate::check;
use crate::engine::{Engine, RunMount, RunRequest};
use crate::names;
use crate::observation::{Observations, StepObservation, StepStatus};
use crate::plan::PlannedStep;
use crate::spec::{Exercise, Mount, RunStep};
use crate::stage::Stage;
use crate::units::{format_limit, format_size};

/// Runs the container of a `run` step and observes what it did.
pub(super) async fn run_step(
    engine: &Engine,
    ex: &Exercise,
    planned: &PlannedStep,
    run: &RunStep,
    done: &Observations,
    stage: &Stage,
    o: &mut StepObservation,
) {
    let (image, image_user) = match super::image::source_image(engine, &run.image, done).await {
        Ok(found) => found,
        Err(status) => {
            o.status = status;
            return;
        }
    };
    let mounts = match resolve_mounts(run, stage) {
        Ok(mounts) => mounts,
        Err(why) => {
            o.status = StepStatus::Failed(why);
            return;
        }
    };
    let request = request(engine, ex, planned, run, image, mounts);
    match engine.run(&request).await {
        Ok(mut facts) => {
            // The process ran as the step's user, else as the image's.
            facts.user = run.user.clone().unwrap_or(image_user);
            if let Some(after) = facts.timed_out {
                o.status = StepStatus::Failed(check::timed_out_message(after));
            } else if let Some(written) = facts.disk_exceeded {
                o.status = StepStatus::Failed(format!(
                    "killed: wrote {} to its disk, more than the {} limit",
                    format_size(written),
                    format_size(run.limits.disk)
                ));
            } else if facts.oom_killed {
                o.status = StepStatus::Failed(format!(
                    "killed: out of memory (limit {})",
                    format_limit(run.limits.memory)
                ));
            }
            o.run = Some(facts);
        }
        Err(e) => o.status = super::status_of(e),
    }
}

/// The container of a `run` step, in the engine's terms.
fn request(
    engine: &Engine,
    ex: &Exercise,
    planned: &PlannedStep,
    run: &RunStep,
    image: String,
    mounts: Vec<RunMount>,
) -> RunRequest {
    RunRequest {
        name: names::run_container(engine.run_id(), &ex.id, &planned.step.name),
        image,
        cmd: run.cmd.clone(),
        entrypoint: run.entrypoint(),
        user: run.user.clone(),
        env: run.env.clone(),
        workdir: run.workdir.clone(),
        stdin: run.stdin.clone(),
        mounts,
        sandbox: run.sandbox(),
        read_passwd: planned.probe.passwd,
        healthcheck: run.healthcheck,
        network: (run.network == crate::sandbox::Network::Exercise)
            .then(|| names::exercise_network(engine.run_id(), &ex.id)),
    }
}

/// The step's mounts with bind sources checked to lie inside the submission.
fn resolve_mounts(run: &RunStep, stage: &Stage) -> Result<Vec<RunMount>, String> {
    run.mounts
        .iter()
        .map(|m| match m {
            Mount::Bind {
                source,
                target,
                readonly,
            } => build_context::resolve_layered(&stage.roots(), source)
                .map(|path| RunMount::Bind {
                    source: path,
                    target: target.clone(),
                    readonly: *readonly,
                })
                .map_err(|e| format!("cannot mount `{source}`: {e}")),
            // The others are in memory: nothing of the host to check.
            other => in_memory_mount(other).ok_or_else(|| format!("cannot mount {other:?}")),
        })
        .collect()
}

/// A `tmpfs` or `scratch` mount in the engine's terms; `None` for a bind
/// mount, whose source must be resolved against the submission.
pub(super) fn in_memory_mount(mount: &Mount) -> Option<RunMount> {
    match mount {
        Mount::Tmpfs { target } => Some(RunMount::Tmpfs {
            target: target.clone(),
        }),
        Mount::Scratch { target } => Some(RunMount::Scratch {
            target: target.clone(),
        }),
        Mount::Bind { .. } => None,
    }
}
