//! The order `validate` grades its cases in, so that they share the build
//! cache (see `engine::kept`) rather than all build the same layers at once.

/// `items` taken one group at a time in turn: the first of every group, then
/// the second of every group, and so on (groups in order of first
/// appearance, each keeping its own order). The cases of one exercise share
/// most of their build (the four git exercises' `apt-get install git`):
/// graded side by side, they would each build it, the cache empty for all;
/// one after the other, the first builds it and the rest reuse its layers
/// (see `engine::kept`), while cases of other exercises fill the slots.
pub(super) fn round_robin<T>(items: Vec<T>, group: impl Fn(&T) -> &str) -> Vec<T> {
    let mut groups: Vec<(String, std::collections::VecDeque<T>)> = Vec::new();
    for item in items {
        let key = group(&item).to_string();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push_back(item),
            None => groups.push((key, std::collections::VecDeque::from([item]))),
        }
    }
    let mut out = Vec::new();
    while groups.iter().any(|(_, members)| !members.is_empty()) {
        for (_, members) in &mut groups {
            if let Some(item) = members.pop_front() {
                out.push(item);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_are_taken_one_exercise_at_a_time_in_turn() {
        let cases = vec![("a", 1), ("a", 2), ("a", 3), ("b", 1), ("c", 1), ("c", 2)];
        let order = round_robin(cases, |(ex, _)| ex);
        assert_eq!(
            order,
            vec![("a", 1), ("b", 1), ("c", 1), ("a", 2), ("c", 2), ("a", 3)]
        );
    }
}
