//! `--shard K/N`: a deterministic share of the students, for running one
//! batch as N jobs of a CI matrix, a Kubernetes Indexed Job or a Swarm job.
//!
//! A student belongs to shard `hash(id) mod N`, not to a position in a
//! listing: adding or removing a student moves no one else, and shards
//! graded at different times still partition the class.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// Shard `index` of `count`, 1-based as people write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The whole class.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    pub fn contains(&self, student: &str) -> bool {
        let digest = Sha256::digest(student.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first) % u64::from(self.count) == u64::from(self.index - 1)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || format!("invalid shard {text:?}: write K/N with 1 ≤ K ≤ N, e.g. 2/5");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_as_people_write_them() {
        assert_eq!("2/5".parse::<Shard>(), Ok(Shard { index: 2, count: 5 }));
        for bad in ["0/3", "4/3", "1/0", "x/2", "3", "", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_student_is_in_exactly_one_shard_and_stays_there() {
        let students: Vec<String> = (0..300).map(|i| format!("student-{i}")).collect();
        let shards: Vec<Shard> = (1..=3).map(|k| Shard { index: k, count: 3 }).collect();
        let mut sizes = [0; 3];
        for s in &students {
            let owners: Vec<usize> = (0..3).filter(|&k| shards[k].contains(s)).collect();
            assert_eq!(owners.len(), 1, "{s}");
            sizes[owners[0]] += 1;
        }
        assert!(sizes.iter().all(|&n| n > 60), "spread out: {sizes:?}");
        assert!(Shard::ALL.contains("anyone"));
    }
}
