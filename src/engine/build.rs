//! Builds with the legacy builder: the context streamed as a tar, the output
//! read as it comes, every layer the builder reports recorded for cleanup.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::errors::Error as DockerError;
use bollard::models::BuildInfo;
use bollard::query_parameters::{BuildImageOptions, BuildImageOptionsBuilder};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::copies::{COPIES, COPIES_KEPT, copy_instruction};
use super::stages::{Diverged, Trace};
use super::{Engine, describe, sandbox};
use crate::build_context::{self, BuildContext};
use crate::build_output::{BuilderLines, Said, StudentLines};
use crate::observation::BuildFacts;
use crate::sandbox::Sandbox;
use crate::units::{format_duration, format_size};

/// How many lines of build output a failure report keeps.
const BUILD_LOG_LINES: usize = 40;
/// How often the disk use of a running RUN instruction is looked at.
const DISK_POLL: Duration = Duration::from_millis(500);
/// How long a stopped build's output is still read, for the layers the
/// builder is committing.
const DRAIN: Duration = Duration::from_secs(120);
/// Why a build or run stopped when its daemon did.
pub(super) const DAEMON_GONE: &str = "the daemon stopped answering";

/// What to build, in the daemon's terms.
#[derive(Debug, Clone)]
pub(crate) struct BuildRequest {
    pub tag: String,
    pub target: Option<String>,
    pub args: BTreeMap<String, String>,
    pub no_cache: bool,
    /// The tags of this run's earlier builds of the same Dockerfile (with
    /// the same arguments): this build must see their stages ([`stages`]).
    pub same_dockerfile_as: Vec<String>,
    /// When not empty, the only images the cache may hand layers from.
    pub cache_from: Vec<String>,
    pub sandbox: Sandbox,
}

/// The result of a build: facts, and the image when it succeeded.
#[derive(Debug, Clone)]
pub(crate) struct BuildOutcome {
    pub facts: BuildFacts,
    pub image_id: Option<String>,
    /// Set when the failure was the daemon's, not the Dockerfile's.
    pub infrastructure_error: Option<String>,
    /// Set when a directory `COPY`/`ADD` step was taken from a layer that
    /// another build made with another instruction (see `COPIES`): the
    /// image may not be what this Dockerfile makes.
    pub borrowed_copy: Option<String>,
    /// Set when a step was handed a layer other than the one an earlier
    /// build of the Dockerfile in this run had for it (see [`stages`]).
    pub diverged: Option<Diverged>,
}

/// What a package mirror or the network says when it, not the Dockerfile,
/// made a RUN fail (apt, and the tools a course's RUNs fetch with).
const NETWORK_FAILURES: [&str; 9] = [
    "Temporary failure resolving",
    "Could not resolve",
    "Failed to fetch",
    "Hash Sum mismatch",
    "Could not connect to",
    "Connection timed out",
    "Connection failed",
    "Some index files failed to download",
    "Unable to connect to",
];

impl BuildOutcome {
    /// The build failed because the network or a package mirror failed
    /// (`Failed to fetch …`, `Hash Sum mismatch` while the mirror syncs),
    /// not because of the Dockerfile. A package that does not exist
    /// (`Unable to locate package`) is the Dockerfile's.
    pub fn network_failed(&self) -> bool {
        self.image_id.is_none()
            && !self.facts.log_tail.contains("Unable to locate package")
            && NETWORK_FAILURES
                .iter()
                .any(|said| self.facts.log_tail.contains(said))
    }

    /// The connection to the daemon broke in the middle of the build's
    /// output ("bytes remaining on stream": the body ended inside a line),
    /// while the daemon itself is fine: a transport hiccup (seen under
    /// load), not the Dockerfile's doing and not worth an error grade.
    pub fn connection_broke(&self) -> bool {
        self.image_id.is_none()
            && self.infrastructure_error.as_deref().is_some_and(|e| {
                [
                    "bytes remaining on stream",
                    "error reading a body from connection",
                    "connection closed before message completed",
                    "connection reset",
                ]
                .iter()
                .any(|said| e.contains(said))
            })
    }

    /// The build failed because an image it was reusing from the build
    /// cache was removed under it ("failed to get digest sha256:…: no such
    /// file"): another grading run that shared those layers ended and
    /// removed its images. Nothing the submission did; building again
    /// (without that layer in the cache) gives the true result.
    pub fn lost_a_cached_layer(&self) -> bool {
        self.image_id.is_none()
            && self.facts.error.as_deref().is_some_and(|e| {
                // A RUN's own failure quotes its command: the submission's
                // text, which could say anything.
                !e.contains("The command '")
                    && (e.contains("failed to get digest sha256:")
                        || e.contains("unknown parent image ID sha256:")
                        || (e.contains("No such image: sha256:") && !e.contains("FROM")))
            })
    }
}

/// Where a build is, for the disk watch and its message.
#[derive(Debug, Default)]
struct Progress {
    /// The builder's current `Step n/m : …` line.
    step: String,
    /// The container of the RUN instruction running now.
    container: Option<String>,
    /// Bytes the build's finished RUN containers wrote.
    earlier: u64,
    /// Bytes the running one has written so far.
    current: u64,
    /// The build is being stopped: kill every RUN container it starts.
    stopping: bool,
    /// `COPY`/`ADD` steps taken from the cache: (layer, instruction).
    reused_copies: Vec<(String, String)>,
    /// The image each step ended on.
    trace: Trace,
    /// In a build from `cache_from`, the images of the earlier build: a step
    /// reported as cached with any other image was handed one the builder
    /// restored from their layers (this run's).
    known: Option<std::collections::HashSet<String>>,
}

impl Progress {
    /// A RUN step's container started: what the previous one wrote is done.
    fn container_started(&mut self, id: &str) {
        self.earlier += std::mem::take(&mut self.current);
        self.container = Some(id.to_string());
    }
}

/// Why a build stopped.
#[derive(Debug)]
enum BuildFailure {
    /// The Dockerfile, the context or the build's own limits.
    Submission(String),
    /// The daemon or the connection to it.
    Daemon(String),
}

impl Engine {
    /// Builds `ctx` with the legacy builder, streaming the context as a tar.
    ///
    /// `on_line` receives each line of build output as it arrives.
    pub async fn build(
        &self,
        ctx: BuildContext,
        req: &BuildRequest,
        on_line: &(dyn Fn(&str) + Send + Sync),
    ) -> BuildOutcome {
        // Nothing of this process removes images while this build may be
        // reusing them (see `CACHE_GUARD`).
        let _building = super::CACHE_GUARD.read().await;
        let options = self.build_options(&ctx.dockerfile, req);
        let upload = ContextUpload::start(ctx);
        let mut log = LogTail::new(BUILD_LOG_LINES);
        let mut image_id = None;
        let mut stream =
            self.docker
                .build_image(options, None, Some(bollard::body_try_stream(upload.body)));
        self.forget_build(&req.tag);
        let first = self.first_trace(&req.same_dockerfile_as);
        let progress = Mutex::new(Progress {
            known: (!req.cache_from.is_empty()).then(|| {
                first
                    .as_ref()
                    .map_or_else(Default::default, Trace::image_set)
            }),
            ..Progress::default()
        });
        let consume = self.consume(&mut stream, &mut log, &mut image_id, &progress, on_line);
        let mut failure = self.supervise(consume, &progress, &req.sandbox).await;
        drop(stream);
        let written = upload.writer.await;
        let context_bytes = match written {
            Ok(Ok(n)) => Some(n),
            _ => Some(upload.sent.load(Ordering::Relaxed)).filter(|n| *n > 0),
        };
        // A file of the context that cannot be read makes the daemon say
        // "Cannot locate specified Dockerfile": the cause is the file. (A
        // broken pipe is the other way round: the daemon stopped reading.)
        if let Ok(Err(e)) = &written
            && e.kind() != io::ErrorKind::BrokenPipe
        {
            failure = Some(BuildFailure::Submission(format!(
                "the build context could not be read: {e}"
            )));
        }
        let facts = BuildFacts {
            succeeded: failure.is_none(),
            context_bytes,
            log_tail: log.text(),
            ..Default::default()
        };
        let mut outcome = self
            .conclude_build(facts, failure, image_id, &req.tag)
            .await;
        if outcome.image_id.is_some() {
            let (reused, trace) = progress
                .lock()
                .map(|mut p| {
                    (
                        std::mem::take(&mut p.reused_copies),
                        std::mem::take(&mut p.trace),
                    )
                })
                .unwrap_or_default();
            outcome.borrowed_copy = self.borrowed_copy(&reused).await;
            outcome.diverged = self.compare_with_first(req, first.as_ref(), trace).await;
        }
        outcome
    }

    /// The daemon's options for building `req` from `dockerfile`.
    fn build_options(&self, dockerfile: &str, req: &BuildRequest) -> BuildImageOptions {
        let labels = self.labels();
        let args = req.args.iter().collect::<HashMap<_, _>>();
        let mut options = BuildImageOptionsBuilder::default()
            .dockerfile(dockerfile)
            .t(&req.tag)
            .rm(true)
            .forcerm(true)
            .nocache(req.no_cache)
            .labels(&labels);
        options = sandbox::build_options(&req.sandbox, options);
        if let Some(target) = &req.target {
            options = options.target(target);
        }
        if !req.cache_from.is_empty() {
            options = options.cachefrom(&req.cache_from);
        }
        if !args.is_empty() {
            options = options.buildargs(&args);
        }
        options.build()
    }

    /// Runs `consume` to its end, unless the build must stop first: its
    /// timeout, its disk budget, or the run being cancelled (Ctrl-C). Then
    /// the RUN instruction running is killed, as is any the builder starts
    /// after, and the output is still read for a while, so that every layer
    /// the builder commits (a large one takes tens of seconds) is reported
    /// and recorded for cleanup rather than left behind unnamed.
    async fn supervise(
        &self,
        consume: impl std::future::Future<Output = Option<BuildFailure>>,
        progress: &Mutex<Progress>,
        sandbox: &Sandbox,
    ) -> Option<BuildFailure> {
        tokio::pin!(consume);
        let stopped = tokio::select! {
            failure = &mut consume => return failure,
            failure = self.watch_disk(progress, sandbox.limits.disk) => failure,
            _ = tokio::time::sleep(sandbox.timeout) => BuildFailure::Submission(format!(
                "the build timed out after {}",
                format_duration(sandbox.timeout)
            )),
            _ = self.cancel.cancelled() => BuildFailure::Daemon("interrupted".to_string()),
        };
        if matches!(&stopped, BuildFailure::Daemon(why) if why == DAEMON_GONE) {
            return Some(stopped);
        }
        let running = progress.lock().ok().and_then(|mut p| {
            p.stopping = true;
            p.container.clone()
        });
        if let Some(id) = running {
            self.kill(&id).await;
        }
        let _ = tokio::time::timeout(DRAIN, &mut consume).await;
        Some(stopped)
    }

    /// Reads the build's output to its end; the failure, if any.
    async fn consume(
        &self,
        stream: &mut (impl Stream<Item = Result<BuildInfo, DockerError>> + Unpin),
        log: &mut LogTail,
        image_id: &mut Option<String>,
        progress: &Mutex<Progress>,
        on_line: &(dyn Fn(&str) + Send + Sync),
    ) -> Option<BuildFailure> {
        let mut lines = BuilderLines::default();
        let mut shown = StudentLines::new(self.labels().len());
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(text) = info.stream {
                        for line in text.lines() {
                            // Every line is read for what the build
                            // created, dockgrade's steps included.
                            self.take_in(lines.read(line), progress).await;
                            let Some(line) = shown.show(line) else {
                                continue;
                            };
                            if !line.trim().is_empty() {
                                on_line(&line);
                            }
                            log.push(&line);
                        }
                    }
                    if let Some(id) = info.aux.and_then(|aux| aux.id) {
                        *image_id = Some(id);
                    }
                }
                Err(DockerError::DockerStreamError { error }) => {
                    return Some(BuildFailure::Submission(error.trim().to_string()));
                }
                // The daemon refuses a Dockerfile it cannot parse (400) or
                // find (500, "Cannot locate specified Dockerfile") before
                // streaming anything: that is the submission's fault. Any
                // other 500 is the daemon's, and the grade cannot stand.
                Err(DockerError::DockerResponseServerError {
                    status_code,
                    message,
                }) if status_code < 500
                    || (status_code == 500
                        && message.to_ascii_lowercase().contains("dockerfile")) =>
                {
                    return Some(BuildFailure::Submission(message.trim().to_string()));
                }
                Err(e) => return Some(BuildFailure::Daemon(describe(&e))),
            }
        }
        None
    }

    /// Records what a line of the build's output says the build created
    /// (never a base or a cached layer: those may be another build's), and
    /// kills a RUN container started while the build is being stopped.
    async fn take_in(&self, said: Option<Said>, progress: &Mutex<Progress>) {
        match said {
            Some(Said::Step(step, key)) => {
                if let Ok(mut p) = progress.lock() {
                    p.trace.begin(&step, key);
                    p.step = step;
                }
            }
            Some(Said::Base(id)) => {
                if let Ok(mut p) = progress.lock() {
                    p.trace.ended_on(&id);
                }
            }
            Some(Said::RunningIn(id)) => {
                self.record(|c| c.build_containers.push(id.clone()));
                let stopping = progress.lock().is_ok_and(|mut p| {
                    p.container_started(&id);
                    p.stopping
                });
                if stopping {
                    self.kill(&id).await;
                }
            }
            Some(Said::Created(id)) => {
                let step = progress
                    .lock()
                    .map(|mut p| {
                        p.trace.ended_on(&id);
                        p.step.clone()
                    })
                    .unwrap_or_default();
                if let Some(instruction) = copy_instruction(&step)
                    && let Ok(mut copies) = COPIES.lock()
                {
                    if copies.len() >= COPIES_KEPT {
                        copies.clear();
                    }
                    copies.insert(id.clone(), instruction.to_string());
                }
                self.record(|c| c.layers.push(id));
            }
            Some(Said::Reused(id)) => {
                let Ok(mut p) = progress.lock() else { return };
                p.trace.ended_on(&id);
                if p.known.as_ref().is_some_and(|k| !k.contains(&id)) {
                    drop(p);
                    tracing::debug!("the builder restored {id} from the first build's layers");
                    self.record(|c| c.layers.push(id));
                } else if let Some(instruction) = copy_instruction(&p.step) {
                    let instruction = instruction.to_string();
                    p.reused_copies.push((id, instruction));
                }
            }
            None => {}
        }
    }

    /// Watches what the running RUN instruction writes; past `budget` bytes
    /// for the whole build, kills it and says so. Never ends otherwise.
    async fn watch_disk(&self, progress: &Mutex<Progress>, budget: u64) -> BuildFailure {
        loop {
            tokio::time::sleep(DISK_POLL).await;
            let Some(id) = progress.lock().ok().and_then(|p| p.container.clone()) else {
                continue;
            };
            let Some(written) = self.written(&id).await else {
                // A daemon that stopped answering never ends the build's
                // output either: say so rather than wait for the timeout.
                if !self.answers().await {
                    return BuildFailure::Daemon(DAEMON_GONE.to_string());
                }
                continue;
            };
            let (total, step) = match progress.lock() {
                Ok(mut p) if p.container.as_deref() == Some(id.as_str()) => {
                    p.current = written;
                    (p.earlier + p.current, p.step.clone())
                }
                _ => continue,
            };
            if total > budget {
                self.kill(&id).await;
                return BuildFailure::Submission(format!(
                    "the build wrote {}, more than the {} limit, and was stopped at `{step}`",
                    format_size(total),
                    format_size(budget)
                ));
            }
        }
    }

    /// Records a built image for cleanup and says how the build ended.
    async fn conclude_build(
        &self,
        mut facts: BuildFacts,
        failure: Option<BuildFailure>,
        mut image_id: Option<String>,
        tag: &str,
    ) -> BuildOutcome {
        match failure {
            None => {
                self.record(|c| c.images.push(tag.to_string()));
                if image_id.is_none() {
                    image_id = self.docker.inspect_image(tag).await.ok().and_then(|i| i.id);
                }
                BuildOutcome {
                    facts,
                    image_id,
                    infrastructure_error: None,
                    borrowed_copy: None,
                    diverged: None,
                }
            }
            Some(BuildFailure::Submission(message)) => {
                facts.error = Some(message);
                BuildOutcome {
                    facts,
                    image_id: None,
                    infrastructure_error: None,
                    borrowed_copy: None,
                    diverged: None,
                }
            }
            Some(BuildFailure::Daemon(message)) => {
                facts.error = Some(message.clone());
                BuildOutcome {
                    facts,
                    image_id: None,
                    infrastructure_error: Some(message),
                    borrowed_copy: None,
                    diverged: None,
                }
            }
        }
    }
}

/// The context's tar, written on a blocking thread and sent as a stream.
struct ContextUpload {
    body: futures_util::stream::BoxStream<'static, Result<Bytes, io::Error>>,
    /// The tar's size when it was written whole, or why it could not be.
    writer: tokio::task::JoinHandle<io::Result<u64>>,
    /// Bytes handed to the daemon so far (for a build cut short).
    sent: Arc<AtomicU64>,
}

impl ContextUpload {
    fn start(ctx: BuildContext) -> ContextUpload {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, io::Error>>(8);
        let sent = Arc::new(AtomicU64::new(0));
        let writer_sent = sent.clone();
        let writer = tokio::task::spawn_blocking(move || {
            let n = build_context::write_tar(
                &ctx,
                ChannelWriter {
                    tx,
                    buf: Vec::with_capacity(64 << 10),
                },
            )?;
            writer_sent.store(n, Ordering::Relaxed);
            Ok::<u64, io::Error>(n)
        });
        let body = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
        .boxed();
        ContextUpload { body, writer, sent }
    }
}

/// Sends the tar to the daemon in 64 KiB chunks from a blocking thread.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, io::Error>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(64 << 10),
        ));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the daemon stopped reading the build context",
            )
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 64 << 10 {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// The last lines of build output.
struct LogTail {
    lines: VecDeque<String>,
    max: usize,
}

impl LogTail {
    fn new(max: usize) -> Self {
        LogTail {
            lines: VecDeque::new(),
            max,
        }
    }

    fn push(&mut self, text: &str) {
        for line in text.lines() {
            if self.lines.len() == self.max {
                self.lines.pop_front();
            }
            let mut line = line.to_string();
            line.truncate(line.floor_char_boundary(500));
            self.lines.push_back(line);
        }
    }

    fn text(&self) -> String {
        self.lines
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_log_keeps_the_tail() {
        let mut t = LogTail::new(2);
        t.push("a\nb\nc\n");
        assert_eq!(t.text(), "b\nc");
    }

    #[test]
    fn a_new_run_container_closes_the_previous_ones_count() {
        let mut p = Progress::default();
        p.container_started("0123456789ab");
        p.current = 100;
        p.container_started("abcdefabcdef");
        assert_eq!((p.earlier, p.current), (100, 0));
        assert_eq!(p.container.as_deref(), Some("abcdefabcdef"));
    }

    #[test]
    fn a_layer_removed_from_the_cache_is_not_the_submissions_failure() {
        let failed = |error: &str| BuildOutcome {
            facts: BuildFacts {
                error: Some(error.into()),
                ..Default::default()
            },
            image_id: None,
            infrastructure_error: None,
            borrowed_copy: None,
            diverged: None,
        };
        assert!(failed(
            "failed to get digest sha256:1b54: open /var/lib/docker/image/overlay2/imagedb/content/sha256/1b54: no such file or directory"
        )
        .lost_a_cached_layer());
        assert!(
            !failed("The command '/bin/sh -c exit 7' returned a non-zero code: 7")
                .lost_a_cached_layer()
        );
        let logged = |log: &str| BuildOutcome {
            facts: BuildFacts {
                log_tail: log.into(),
                ..Default::default()
            },
            image_id: None,
            infrastructure_error: None,
            borrowed_copy: None,
            diverged: None,
        };
        assert!(logged("E: Failed to fetch http://deb.debian.org/debian/pool/main/g/git/git_2.39.5.deb  Connection failed [IP: 151.101.2.132 80]").network_failed());
        assert!(!logged("E: Unable to locate package gitt").network_failed());
        assert!(!logged("Step 2/2 : RUN exit 7").network_failed());
    }

    #[test]
    fn a_broken_connection_is_built_again_but_a_daemon_error_is_not() {
        let broke = |why: &str| BuildOutcome {
            facts: BuildFacts::default(),
            image_id: None,
            infrastructure_error: Some(why.into()),
            borrowed_copy: None,
            diverged: None,
        };
        assert!(
            broke("the daemon failed during the build: bytes remaining on stream")
                .connection_broke()
        );
        assert!(!broke(DAEMON_GONE).connection_broke());
        assert!(!broke("interrupted").connection_broke());
        // The submission's own failure never is.
        let failed = BuildOutcome {
            facts: BuildFacts {
                error: Some("bytes remaining on stream".into()),
                ..Default::default()
            },
            image_id: None,
            infrastructure_error: None,
            borrowed_copy: None,
            diverged: None,
        };
        assert!(!failed.connection_broke());
    }
}
