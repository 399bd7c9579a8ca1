//! The one case where the legacy builder's cache hands a build a layer
//! that another instruction made: copies of folders. [`COPIES`] remembers
//! which instruction made each `COPY`/`ADD` layer of this process's builds,
//! and [`Engine::borrowed_copy`] tells a build that took a folder's copy from
//! the cache of another instruction (the runner then builds it again
//! without the cache).

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::Engine;

/// The instruction (`COPY docker_tutorial .`) that committed each `COPY` or
/// `ADD` layer this process's builds made, by short id.
///
/// The legacy builder keys a directory copy's cache by the source's content
/// with paths relative to the context's root, and by the destination: so
/// `COPY . .` from a context holding only `docker_tutorial/` (the rest
/// ignored) and `COPY docker_tutorial .` have the same key, and the second
/// build is handed the first one's layer, although it copies the folder
/// where the other copies its contents. Runs of one `batch` or `validate`
/// share the cache (see `kept`): one student's build must never be given
/// another's differently-meant copy. A build that reuses a directory copy
/// this process did not make with the very same instruction is built again
/// without the cache.
pub(super) static COPIES: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

/// At most this many entries in `COPIES` (then it starts again: an unknown
/// reused copy only costs a build without the cache).
pub(super) const COPIES_KEPT: usize = 100_000;

/// The instruction of a `Step n/m : …` line, if it copies (`COPY`, `ADD`).
pub(super) fn copy_instruction(step: &str) -> Option<&str> {
    let instruction = step.split_once(" : ")?.1.trim();
    let keyword = instruction.split_whitespace().next()?;
    (keyword.eq_ignore_ascii_case("COPY") || keyword.eq_ignore_ascii_case("ADD"))
        .then_some(instruction)
}

/// Whether an image history's `created_by` is a copy of a directory or of
/// several sources: `/bin/sh -c #(nop) COPY [--chown=…] dir:<hash> in <dest>`.
fn copies_a_directory(created_by: &str) -> bool {
    let Some((_, after)) = created_by.split_once("#(nop) ") else {
        return false;
    };
    let mut words = after.split_whitespace();
    matches!(words.next(), Some("COPY" | "ADD"))
        && words
            .take_while(|w| *w != "in")
            .any(|w| w.starts_with("dir:") || w.starts_with("multi:"))
}

impl Engine {
    /// The first `COPY`/`ADD` step of `reused` that took a directory copy
    /// made by another instruction (or by a build this process did not run)
    /// from the cache, said as a sentence (see `COPIES`).
    pub(super) async fn borrowed_copy(&self, reused: &[(String, String)]) -> Option<String> {
        for (id, instruction) in reused {
            let made_by = COPIES.lock().ok().and_then(|c| c.get(id).cloned());
            if made_by.as_deref() == Some(instruction.as_str()) {
                continue;
            }
            let Ok(history) = self.docker.image_history(id).await else {
                continue;
            };
            if history
                .first()
                .is_some_and(|h| copies_a_directory(&h.created_by))
            {
                return Some(match made_by {
                    Some(other) => format!(
                        "`{instruction}` was taken from the cache of another build's `{other}`"
                    ),
                    None => format!(
                        "`{instruction}` was taken from the cache of a build dockgrade did not watch"
                    ),
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_told_by_their_step_and_directory_copies_by_their_history() {
        assert_eq!(
            copy_instruction("Step 3/4 : COPY docker_tutorial ."),
            Some("COPY docker_tutorial .")
        );
        assert_eq!(copy_instruction("Step 2/9 : add x /x"), Some("add x /x"));
        assert_eq!(copy_instruction("Step 2/9 : RUN cp a b"), None);
        assert_eq!(copy_instruction("COPY without a step"), None);
        for dir in [
            "/bin/sh -c #(nop) COPY dir:4a2b in . ",
            "/bin/sh -c #(nop) COPY --chown=1000:1000 dir:4a2b in docker_tutorial ",
            "/bin/sh -c #(nop) ADD multi:9f00 in /x/ ",
        ] {
            assert!(copies_a_directory(dir), "{dir}");
        }
        for other in [
            "/bin/sh -c #(nop) COPY file:4a2b in /tmp/ ",
            "/bin/sh -c #(nop) ADD file:4a2b in / ",
            "/bin/sh -c echo COPY dir:x in y",
            "/bin/sh -c #(nop)  CMD [\"sh\"]",
            "/bin/sh -c #(nop) COPY file:ab in dir:x ",
        ] {
            assert!(!copies_a_directory(other), "{other}");
        }
    }
}
