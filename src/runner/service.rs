//! Service, push and exec steps, and what a step's checks ask of services
//! once it has finished (requests, disk use).
//!
//! A service is started on the exercise's network under its step name and
//! stays up until the exercise's cleanup; pushes and execs find it through
//! its step's observation.
//!
//! Which way a request goes is decided here: to an exercise's service by
//! its name on the exercise's network, through the engine's tunnel (the
//! daemon may be anywhere); to a student's own container (live) at the port
//! it publishes on 127.0.0.1 of the student's machine, where dockgrade runs.

use crate::engine::{Endpoint, Engine, Ready, ServiceAddress, ServiceRequest};
use crate::names;
use crate::observation::{
    Observations, ServiceFacts, StepObservation, StepStatus, Unanswered, expand,
};
use crate::plan::{PlannedStep, Probe};
use crate::sandbox::{Network, Sandbox};
use crate::spec::{ExecStep, Exercise, HttpRequest, PushStep, Readiness, ServiceStep};

/// Starts a service and waits until it is ready.
pub(super) async fn service_step(
    engine: &Engine,
    ex: &Exercise,
    planned: &PlannedStep,
    service: &ServiceStep,
    done: &Observations,
    o: &mut StepObservation,
) {
    let image = match super::image::source_image(engine, &service.image, done).await {
        Ok((id, _)) => id,
        Err(status) => {
            o.status = status;
            return;
        }
    };
    let request = ServiceRequest {
        name: names::run_container(engine.run_id(), &ex.id, &planned.step.name),
        image,
        cmd: service.cmd.clone(),
        env: service.env.clone(),
        port: service.port,
        network: names::exercise_network(engine.run_id(), &ex.id),
        alias: planned.step.name.clone(),
        ready: match &service.ready {
            Readiness::Running => Ready::Running,
            Readiness::Port => Ready::Port,
            Readiness::Http(path) => Ready::Http(path.clone()),
        },
        sandbox: Sandbox::run(service.limits, Network::Exercise, service.timeout),
        // The spec allows a service no bind mount.
        mounts: service
            .mounts
            .iter()
            .filter_map(super::run::in_memory_mount)
            .collect(),
    };
    match engine.start_service(&request).await {
        Ok(facts) => o.service = Some(facts),
        Err(e) => o.status = super::status_of(e),
    }
}

/// The running service a step names, from its step's observation.
fn service_of<'a>(done: &'a Observations, name: &str) -> Result<&'a ServiceFacts, String> {
    done.steps
        .get(name)
        .and_then(|s| s.service.as_ref())
        .ok_or_else(|| format!("not run: service `{name}` is not running"))
}

/// Pushes a step's image to a registry service.
pub(super) async fn push_step(
    engine: &Engine,
    push: &PushStep,
    done: &Observations,
    o: &mut StepObservation,
) {
    let Some(image) = done.steps.get(&push.image).and_then(|s| s.image.as_ref()) else {
        o.status = StepStatus::Skipped(format!("not run: step `{}` has no image", push.image));
        return;
    };
    // The daemon pushes to the port it published; the grader reads the
    // pushed manifest back from the service itself.
    let (port, registry) = match service_of(done, &push.registry) {
        Ok(service) => match (service.host_port, address_of(service)) {
            (Some(port), Some(address)) => (port, Endpoint::Service(address)),
            _ => {
                o.status = StepStatus::Error(format!(
                    "service `{}` publishes no port to push to",
                    push.registry
                ));
                return;
            }
        },
        Err(why) => {
            o.status = StepStatus::Skipped(why);
            return;
        }
    };
    match engine
        .push(&image.id, port, &registry, &push.tags, push.timeout)
        .await
    {
        Ok(facts) => o.push = Some(facts),
        Err(e) => o.status = super::status_of(e),
    }
}

/// Runs a command inside a service.
pub(super) async fn exec_step(
    engine: &Engine,
    exec: &ExecStep,
    done: &Observations,
    o: &mut StepObservation,
) {
    let container = match service_of(done, &exec.service) {
        Ok(s) => s.container.clone(),
        Err(why) => {
            o.status = StepStatus::Skipped(why);
            return;
        }
    };
    match engine
        .exec(&container, &exec.cmd, exec.user.as_deref(), exec.timeout)
        .await
    {
        Ok(facts) => {
            if let Some(after) = facts.timed_out {
                o.status = StepStatus::Failed(crate::check::timed_out_message(after));
            }
            o.run = Some(facts);
        }
        Err(e) => o.status = super::status_of(e),
    }
}

/// Where a service answers on the exercise's network, if it has a port.
fn address_of(service: &ServiceFacts) -> Option<ServiceAddress> {
    service.port.map(|port| ServiceAddress {
        network: service.network.clone(),
        name: service.alias.clone(),
        port,
    })
}

/// Where to ask, and whose it is.
struct Target {
    endpoint: Endpoint,
    /// A student's own container (live): its silence is theirs.
    students: bool,
}

/// Where a request goes: the host port a student's container (live)
/// publishes the asked container port on, or an exercise's service on its
/// network.
fn target(
    request: &HttpRequest,
    o: &StepObservation,
    done: &Observations,
    find: &dyn Fn(&str, &StepObservation) -> Result<ServiceFacts, String>,
) -> Result<Target, Unanswered> {
    let container = if o.step == request.service {
        o.container.as_ref()
    } else {
        done.steps
            .get(&request.service)
            .and_then(|s| s.container.as_ref())
    };
    if let Some(container) = container {
        let wanted = format!("{}/tcp", request.port.unwrap_or_default());
        let published = container
            .ports
            .iter()
            .find(|(port, _, host_port)| *port == wanted && host_port.is_some())
            .and_then(|(_, _, host_port)| *host_port);
        return published
            .map(|number| Target {
                endpoint: Endpoint::Loopback(number),
                students: true,
            })
            .ok_or_else(|| Unanswered {
                why: format!(
                    "container `{}` publishes no host port for {wanted}",
                    container.name
                ),
                students: true,
            });
    }
    let failed = |why: String| Unanswered {
        why,
        students: false,
    };
    let service = find(&request.service, o).map_err(failed)?;
    address_of(&service)
        .map(|address| Target {
            endpoint: Endpoint::Service(address),
            students: false,
        })
        .ok_or_else(|| failed(format!("service `{}` has no port", request.service)))
}

/// Makes the requests and disk measurements the step's checks need, now
/// that it has finished. `done` holds the steps finished before; `o` is
/// this one (a service's checks ask the service itself).
pub(super) async fn ask_services(
    engine: &Engine,
    probe: &Probe,
    done: &Observations,
    o: &mut StepObservation,
) {
    let find = |name: &str, o: &StepObservation| -> Result<ServiceFacts, String> {
        if o.step == name {
            o.service
                .clone()
                .ok_or_else(|| format!("service `{name}` is not running"))
        } else {
            service_of(done, name).cloned()
        }
    };
    for request in &probe.http {
        let answer = async {
            let to = target(request, o, done, &find)?;
            let failed = |why: String| Unanswered {
                why,
                students: false,
            };
            let path = expand(&request.path, done).map_err(failed)?;
            let mut headers = std::collections::BTreeMap::new();
            for (k, v) in &request.headers {
                headers.insert(k.clone(), expand(v, done).map_err(failed)?);
            }
            engine
                .http(&to.endpoint, &request.method, &path, &headers)
                .await
                .map_err(|why| Unanswered {
                    why,
                    students: to.students,
                })
        }
        .await;
        o.http.insert(request.clone(), answer);
    }
    for disk in &probe.disk {
        let used = match find(&disk.service, o) {
            Ok(service) => engine.disk_usage(&service.container, &disk.path).await,
            Err(why) => Err(why),
        };
        o.disk.insert(disk.clone(), used);
    }
}
