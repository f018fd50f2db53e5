//! How well mined templates match known ones: the measures the tests and the accuracy example report.

use std::collections::HashMap;
use std::hash::Hash;

/// Grouping accuracy, the standard measure of log parsing (Zhu et al., "Tools and Benchmarks for
/// Automated Log Parsing", ICSE-SEIP 2019): a message counts as right when the mined group it is in holds
/// exactly the messages of its true template, no more and no fewer. The share of messages that are right.
pub fn grouping_accuracy<T: Hash + Eq, M: Hash + Eq>(truth: &[T], mined: &[M]) -> f64 {
    assert_eq!(truth.len(), mined.len(), "one mined group per message");
    if truth.is_empty() {
        return 1.0;
    }
    let mut truth_size: HashMap<&T, usize> = HashMap::new();
    for t in truth {
        *truth_size.entry(t).or_default() += 1;
    }
    // Per mined group: its size and its one true template, or None when it mixes several.
    let mut groups: HashMap<&M, (usize, Option<&T>)> = HashMap::new();
    for (t, m) in truth.iter().zip(mined) {
        let e = groups.entry(m).or_insert((0, Some(t)));
        e.0 += 1;
        if e.1 != Some(t) {
            e.1 = None;
        }
    }
    let right: usize = groups.values().filter_map(|&(n, t)| t.filter(|t| truth_size[t] == n).map(|_| n)).sum();
    right as f64 / truth.len() as f64
}

/// For each true template, the share of its messages that the mined group holding most of them holds:
/// 1.0 when the template was never split. Returned in the order of first appearance, with the template.
pub fn coverage<'a, T: Hash + Eq, M: Hash + Eq>(truth: &'a [T], mined: &[M]) -> Vec<(&'a T, usize, f64)> {
    let mut order: Vec<&T> = Vec::new();
    let mut per: HashMap<&T, HashMap<&M, usize>> = HashMap::new();
    for (t, m) in truth.iter().zip(mined) {
        let e = per.entry(t).or_insert_with(|| {
            order.push(t);
            HashMap::new()
        });
        *e.entry(m).or_default() += 1;
    }
    order
        .into_iter()
        .map(|t| {
            let counts = &per[t];
            let total: usize = counts.values().sum();
            let best = counts.values().copied().max().unwrap_or(0);
            (t, total, best as f64 / total as f64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_right_only_when_its_group_is_exactly_its_template() {
        // Template a is split (both halves wrong), b is exact, c is merged with d (both wrong).
        let truth = ["a", "a", "b", "b", "c", "d"];
        let mined = [1, 2, 3, 3, 4, 4];
        assert!((grouping_accuracy(&truth, &mined) - 2.0 / 6.0).abs() < 1e-12);
        assert_eq!(grouping_accuracy(&truth, &truth), 1.0);
        let cov = coverage(&truth, &mined);
        assert_eq!(cov[0], (&"a", 2, 0.5));
        assert_eq!(cov[1], (&"b", 2, 1.0));
    }
}
