//! Before a build: what the Dockerfile would make the daemon fetch.
//!
//! With the legacy builder the *daemon* downloads `ADD <url>` sources and
//! pulls the images `FROM` and `COPY --from` name, from the grading
//! machine's own network namespace, whatever network the build is given:
//! `ADD http://127.0.0.1:PORT/x` reads a service only the host can reach,
//! `FROM localhost:5000/x` pulls from a registry on the host. So a
//! Dockerfile is read first (as the builder reads it, build arguments
//! substituted) and refused, naming the line, when it names a URL the
//! exercise does not allow or an image the daemon does not already have
//! and the exercise does not allow.

use std::io::Read;

use crate::build_context::BuildContext;
use crate::dockerfile::{Dockerfile, RemoteKind, remote_sources};
use crate::engine::Engine;
use crate::spec::{BuildStep, Exercise, StepKind};

/// The largest Dockerfile read; Docker has no limit, a course needs less.
const MAX_DOCKERFILE: u64 = 1 << 20;

/// Why the build must not start, or `None` when nothing remote is refused.
pub(super) async fn refused(
    engine: &Engine,
    ex: &Exercise,
    build: &BuildStep,
    ctx: &BuildContext,
) -> Result<Option<String>, crate::engine::StepError> {
    let text = match read_dockerfile(ctx) {
        Ok(text) => text,
        Err(why) => return Ok(Some(why)),
    };
    let dockerfile = match Dockerfile::parse_bytes(&text) {
        Ok(d) => d,
        Err(e) => return Ok(Some(format!("the Dockerfile cannot be read: {e}"))),
    };
    let sources = match remote_sources(&dockerfile, &build.args) {
        Ok(sources) => sources,
        Err(e) => return Ok(Some(e.to_string())),
    };
    let named: Vec<&str> = ex
        .steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::Image { reference, .. } => Some(reference.as_str()),
            _ => None,
        })
        .collect();
    for source in sources {
        let why = match &source.kind {
            RemoteKind::Url(url) if build.allow_urls.iter().any(|a| url.starts_with(a)) => None,
            RemoteKind::Url(url) => Some(format!(
                "fetches {url}, which this exercise does not allow (the daemon would fetch it \
                 from the grading machine's own network); COPY the file from the build context instead"
            )),
            RemoteKind::Image(image)
                if named.contains(&image.as_str())
                    || build.allow_images.contains(image)
                    || engine.image_id(image).await?.is_some() =>
            {
                None
            }
            RemoteKind::Image(image) => Some(format!(
                "needs the image {image}, which is not on this machine and which this exercise \
                 does not allow pulling"
            )),
        };
        if let Some(why) = why {
            return Ok(Some(format!(
                "line {}: `{}` {why}",
                source.line, source.excerpt
            )));
        }
    }
    Ok(None)
}

/// The Dockerfile the build would send, at most [`MAX_DOCKERFILE`] bytes.
pub(super) fn read_dockerfile(ctx: &BuildContext) -> Result<Vec<u8>, String> {
    let entry = ctx
        .entries
        .iter()
        .find(|e| e.name == ctx.dockerfile.as_bytes())
        .ok_or_else(|| {
            format!(
                "the Dockerfile {} is not in the build context",
                ctx.dockerfile
            )
        })?;
    let file = std::fs::File::open(&entry.source)
        .map_err(|e| format!("cannot read the Dockerfile: {e}"))?;
    let mut text = Vec::new();
    file.take(MAX_DOCKERFILE + 1)
        .read_to_end(&mut text)
        .map_err(|e| format!("cannot read the Dockerfile: {e}"))?;
    if text.len() as u64 > MAX_DOCKERFILE {
        return Err(format!(
            "the Dockerfile is larger than {} bytes",
            MAX_DOCKERFILE
        ));
    }
    Ok(text)
}
