//! `secrets = "none"`: nothing in the image that looks like a credential, in
//! any layer (even one a later layer deletes), in the config's `Env`, or in
//! the history (build arguments the legacy builder records with each `RUN`).
//! What is looked for is [`crate::secrets`]'s; findings name the layer or
//! field and show a value's first characters only.

use super::layers::{contents, describe_layer, readable};
use super::{Assessed, Finding};
use crate::observation::ImageFacts;
use crate::secrets;

/// Findings named in a message; the rest are counted.
const SHOWN: usize = 5;

pub(super) fn none(image: &ImageFacts) -> Assessed {
    let contents = contents(image)?;
    let mut found = Vec::new();
    for (index, layer) in contents.layers.iter().enumerate() {
        for (path, s) in &layer.suspects {
            found.push(format!(
                "{path} in {}: {} ({})",
                describe_layer(contents, index),
                s.what,
                s.preview
            ));
        }
    }
    for assignment in &image.config.env {
        if let Some(s) = secrets::in_env(assignment) {
            let name = assignment.split('=').next().unwrap_or_default();
            found.push(format!(
                "ENV {name} in the config: {} ({})",
                s.what, s.preview
            ));
        }
    }
    for (index, entry) in contents.history.iter().enumerate() {
        for (place, s) in secrets::in_history(&entry.created_by) {
            found.push(format!(
                "history entry {} ({}): {place} holds {} ({})",
                index + 1,
                readable(&entry.created_by),
                s.what,
                s.preview
            ));
        }
    }
    let expected = "no credentials in any layer, the config or the history";
    if found.is_empty() {
        let actual = format!(
            "none in {} layers, the config or the history",
            contents.layers.len()
        );
        return Ok(Finding::new(true, "secrets", expected, actual));
    }
    let count = found.len();
    found.truncate(SHOWN);
    if count > SHOWN {
        found.push(format!("and {} more", count - SHOWN));
    }
    Ok(Finding::new(false, "secrets", expected, found.join("; ")))
}
