//! A byte trie of pattern pieces, so a path finds the pieces it holds in
//! time linear in its own length, whatever the number of patterns.
//!
//! Walked from the root it answers "which stored strings start this text"
//! (prefix and, over reversed bytes, suffix patterns); with Aho-Corasick
//! failure links it answers "which stored strings occur anywhere in it"
//! (the literal that every match of a wildcard pattern must contain).

use std::collections::HashMap;

const NONE: u32 = u32::MAX;

/// Stored strings, each with the id it was inserted under.
#[derive(Debug, Default)]
pub(super) struct Trie {
    edges: HashMap<(u32, u8), u32>,
    /// Per node: the id of the string that ends there, or `NONE`.
    ends: Vec<u32>,
    /// Per node, once [`Trie::link`] ran: the longest proper suffix of the
    /// node's string that is also a node.
    fail: Vec<u32>,
    /// Per node, once linked: the nearest node on the failure chain where a
    /// string ends (Aho-Corasick's dictionary link).
    out: Vec<u32>,
}

impl Trie {
    pub(super) fn new() -> Trie {
        Trie {
            ends: vec![NONE],
            ..Trie::default()
        }
    }

    /// Stores `bytes` under `id`, or returns the id already stored for them.
    pub(super) fn insert(&mut self, bytes: impl IntoIterator<Item = u8>, id: u32) -> u32 {
        let mut node = 0;
        for b in bytes {
            let fresh = self.ends.len() as u32;
            node = *self.edges.entry((node, b)).or_insert(fresh);
            if node == fresh {
                self.ends.push(NONE);
            }
        }
        let end = &mut self.ends[node as usize];
        if *end == NONE {
            *end = id;
        }
        *end
    }

    /// Calls `hit` with the id of every stored string that `bytes` starts
    /// with; returns the node reached when all of `bytes` were consumed.
    pub(super) fn prefixes_of(
        &self,
        bytes: impl IntoIterator<Item = u8>,
        hit: &mut impl FnMut(u32),
    ) -> Option<u32> {
        let mut node = 0;
        self.report_end(node, hit);
        for b in bytes {
            node = *self.edges.get(&(node, b))?;
            self.report_end(node, hit);
        }
        Some(node)
    }

    /// The id stored one byte `b` below `node`, if any.
    pub(super) fn end_below(&self, node: u32, b: u8) -> Option<u32> {
        let next = *self.edges.get(&(node, b))?;
        Some(self.ends[next as usize]).filter(|id| *id != NONE)
    }

    fn report_end(&self, node: u32, hit: &mut impl FnMut(u32)) {
        let id = self.ends[node as usize];
        if id != NONE {
            hit(id);
        }
    }

    /// Computes the failure and dictionary links, for [`Trie::occurrences`].
    pub(super) fn link(&mut self) {
        let n = self.ends.len();
        let mut parent = vec![(0u32, 0u8); n];
        let mut depth = vec![0u32; n];
        let mut by_depth: Vec<u32> = (1..n as u32).collect();
        // Edges are created parent first, so one pass in creation order
        // gives every node its depth.
        let mut edges: Vec<(u32, u8, u32)> =
            self.edges.iter().map(|(k, v)| (k.0, k.1, *v)).collect();
        edges.sort_unstable_by_key(|e| e.2);
        for (from, b, to) in edges {
            parent[to as usize] = (from, b);
            depth[to as usize] = depth[from as usize] + 1;
        }
        by_depth.sort_unstable_by_key(|v| depth[*v as usize]);
        self.fail = vec![0; n];
        self.out = vec![NONE; n];
        for v in by_depth {
            let (p, b) = parent[v as usize];
            let f = if p == 0 {
                0
            } else {
                self.step(self.fail[p as usize], b)
            };
            self.fail[v as usize] = f;
            self.out[v as usize] = if self.ends[f as usize] != NONE {
                f
            } else {
                self.out[f as usize]
            };
        }
    }

    /// The Aho-Corasick transition: the longest stored prefix that the text
    /// read so far, then `b`, ends with.
    fn step(&self, mut node: u32, b: u8) -> u32 {
        loop {
            if let Some(next) = self.edges.get(&(node, b)) {
                return *next;
            }
            if node == 0 {
                return 0;
            }
            node = self.fail[node as usize];
        }
    }

    /// Calls `hit` with the id of every stored string at every place it
    /// occurs in `text` (needs [`Trie::link`]).
    pub(super) fn occurrences(&self, text: &[u8], hit: &mut impl FnMut(u32)) {
        let mut node = 0;
        for &b in text {
            node = self.step(node, b);
            let mut at = if self.ends[node as usize] != NONE {
                node
            } else {
                self.out[node as usize]
            };
            while at != NONE {
                hit(self.ends[at as usize]);
                at = self.out[at as usize];
            }
        }
    }
}
