//! The server-side assignors of KIP-848, pure functions from (members' subscriptions, topic
//! partition counts, previous target) to a new target:
//!
//! - `uniform` (the default): spreads all subscribed partitions as evenly as the
//!   subscriptions allow (member counts differ by at most one when every member subscribes
//!   to the same topics), keeping each partition with its previous owner where balance
//!   allows, so a rebalance moves few partitions.
//! - `range`: per topic, the subscribed members sorted by id get consecutive ranges of
//!   partitions, the first `partitions % members` one more; members subscribed to the same
//!   topics get the same partition numbers of each (co-partitioning).

use std::collections::{BTreeMap, BTreeSet};

use super::Parts;

/// The assignors this coordinator knows, the default first.
pub const ASSIGNORS: &[&str] = &["uniform", "range"];

/// The target assignment by `assignor` (`range`, or else `uniform`). `members` maps member
/// ids to subscribed topic names; `topics` the known topics to partition counts; topics a
/// member subscribes to that do not exist are ignored. Every member gets an entry.
pub fn assign(
    assignor: &str,
    members: &BTreeMap<String, BTreeSet<String>>,
    topics: &BTreeMap<String, i32>,
    previous: &BTreeMap<String, Parts>,
) -> BTreeMap<String, Parts> {
    let mut target: BTreeMap<String, Parts> =
        members.keys().map(|m| (m.clone(), Parts::new())).collect();
    if assignor == "range" {
        range(members, topics, &mut target);
    } else {
        uniform(members, topics, previous, &mut target);
    }
    target
}

/// Subscribers of each existing topic, sorted by member id.
fn subscribers<'a>(
    members: &'a BTreeMap<String, BTreeSet<String>>,
    topics: &BTreeMap<String, i32>,
) -> BTreeMap<String, Vec<&'a String>> {
    let mut by_topic: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    for (member, subscribed) in members {
        for topic in subscribed.iter().filter(|t| topics.contains_key(*t)) {
            by_topic.entry(topic.clone()).or_default().push(member);
        }
    }
    by_topic
}

fn range(
    members: &BTreeMap<String, BTreeSet<String>>,
    topics: &BTreeMap<String, i32>,
    target: &mut BTreeMap<String, Parts>,
) {
    for (topic, subs) in subscribers(members, topics) {
        let partitions = topics.get(&topic).copied().unwrap_or(0).max(0) as usize;
        let (each, extra) = (partitions / subs.len(), partitions % subs.len());
        let mut next = 0usize;
        for (i, member) in subs.iter().enumerate() {
            let n = each + usize::from(i < extra);
            let set: BTreeSet<i32> = (next..next + n).map(|p| p as i32).collect();
            next += n;
            if !set.is_empty() {
                if let Some(parts) = target.get_mut(*member) {
                    parts.insert(topic.clone(), set);
                }
            }
        }
    }
}

fn uniform(
    members: &BTreeMap<String, BTreeSet<String>>,
    topics: &BTreeMap<String, i32>,
    previous: &BTreeMap<String, Parts>,
    target: &mut BTreeMap<String, Parts>,
) {
    let subs = subscribers(members, topics);
    let total: usize = subs
        .keys()
        .map(|t| topics.get(t).copied().unwrap_or(0).max(0) as usize)
        .sum();
    if members.is_empty() {
        return;
    }
    let ceiling = total.div_ceil(members.len());
    let mut counts: BTreeMap<&String, usize> = members.keys().map(|m| (m, 0)).collect();
    let mut owner: BTreeMap<(String, i32), String> = BTreeMap::new();
    // Sticky pass: a partition stays with its previous owner while the owner is subscribed
    // and under the ceiling.
    for (member, parts) in previous {
        let Some(subscribed) = members.get(member) else {
            continue;
        };
        for (topic, partitions) in parts {
            let limit = topics.get(topic).copied().unwrap_or(0);
            if !subscribed.contains(topic) {
                continue;
            }
            for &p in partitions.iter().filter(|p| **p < limit) {
                let count = counts.entry(member).or_default();
                if *count < ceiling && !owner.contains_key(&(topic.clone(), p)) {
                    *count += 1;
                    owner.insert((topic.clone(), p), member.clone());
                }
            }
        }
    }
    // Fill pass: topics with the fewest subscribers first, each free partition to the least
    // loaded subscriber.
    let mut order: Vec<(&String, &Vec<&String>)> = subs.iter().collect();
    order.sort_by_key(|(t, s)| (s.len(), (*t).clone()));
    for (topic, subscribed) in order {
        for p in 0..topics.get(topic).copied().unwrap_or(0) {
            if owner.contains_key(&(topic.clone(), p)) {
                continue;
            }
            if let Some(member) = subscribed.iter().min_by_key(|m| (counts[**m], **m)) {
                *counts.entry(member).or_default() += 1;
                owner.insert((topic.clone(), p), (*member).clone());
            }
        }
    }
    balance(&subs, &mut owner, &mut counts);
    for ((topic, p), member) in owner {
        if let Some(parts) = target.get_mut(&member) {
            parts.entry(topic).or_default().insert(p);
        }
    }
}

/// Moves partitions from a member to a subscriber with at least two fewer, until none can.
fn balance<'a>(
    subs: &BTreeMap<String, Vec<&'a String>>,
    owner: &mut BTreeMap<(String, i32), String>,
    counts: &mut BTreeMap<&'a String, usize>,
) {
    let limit = owner.len() * counts.len() + 1;
    for _ in 0..limit {
        let mut moved = false;
        let keys: Vec<(String, i32)> = owner.keys().cloned().collect();
        for key in keys {
            let Some(current) = owner.get(&key).cloned() else {
                continue;
            };
            let from = counts.get(&current).copied().unwrap_or(0);
            let best = subs
                .get(&key.0)
                .and_then(|s| s.iter().min_by_key(|m| (counts[**m], **m)).copied());
            if let Some(to) = best.filter(|to| counts[*to] + 1 < from) {
                if let Some(c) = counts.get_mut(&current) {
                    *c -= 1;
                }
                *counts.entry(to).or_default() += 1;
                owner.insert(key, to.clone());
                moved = true;
            }
        }
        if !moved {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(list: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        list.iter()
            .map(|(m, t)| (m.to_string(), t.iter().map(|t| t.to_string()).collect()))
            .collect()
    }

    fn topics(list: &[(&str, i32)]) -> BTreeMap<String, i32> {
        list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn counts(target: &BTreeMap<String, Parts>) -> Vec<usize> {
        target.values().map(super::super::count).collect()
    }

    #[test]
    fn range_gives_consecutive_ranges_per_topic() {
        let m = members(&[("a", &["x", "y"]), ("b", &["x", "y"])]);
        let t = topics(&[("x", 3), ("y", 3)]);
        let target = assign("range", &m, &t, &BTreeMap::new());
        assert_eq!(target["a"]["x"], BTreeSet::from([0, 1]));
        assert_eq!(target["a"]["y"], BTreeSet::from([0, 1]));
        assert_eq!(target["b"]["x"], BTreeSet::from([2]));
        assert_eq!(counts(&target), vec![4, 2]);
    }

    #[test]
    fn uniform_balances_and_covers_every_partition_once() {
        let m = members(&[("a", &["x", "y"]), ("b", &["x", "y"])]);
        let t = topics(&[("x", 3), ("y", 3)]);
        let target = assign("uniform", &m, &t, &BTreeMap::new());
        assert_eq!(counts(&target), vec![3, 3]);
        let m3 = members(&[("a", &["x"]), ("b", &["x"]), ("c", &["x"])]);
        let t8 = topics(&[("x", 8)]);
        let target = assign("uniform", &m3, &t8, &BTreeMap::new());
        let mut all: Vec<i32> = target.values().flat_map(|p| p["x"].clone()).collect();
        all.sort();
        assert_eq!(all, (0..8).collect::<Vec<_>>());
        let mut c = counts(&target);
        c.sort();
        assert_eq!(c, vec![2, 3, 3]);
    }

    #[test]
    fn uniform_is_sticky_when_a_member_joins() {
        let t = topics(&[("x", 8)]);
        let two = members(&[("a", &["x"]), ("b", &["x"])]);
        let before = assign("uniform", &two, &t, &BTreeMap::new());
        let three = members(&[("a", &["x"]), ("b", &["x"]), ("c", &["x"])]);
        let after = assign("uniform", &three, &t, &before);
        for m in ["a", "b"] {
            assert!(
                after[m]["x"].is_subset(&before[m]["x"]),
                "{m} lost nothing it kept"
            );
        }
        assert_eq!(after["c"]["x"].len(), 2);
    }

    #[test]
    fn uniform_respects_heterogeneous_subscriptions() {
        let m = members(&[("a", &["x"]), ("b", &["x", "y"])]);
        let t = topics(&[("x", 2), ("y", 4)]);
        let target = assign("uniform", &m, &t, &BTreeMap::new());
        assert!(!target["a"].contains_key("y"));
        assert_eq!(target["a"]["x"].len(), 2, "{target:?}");
        assert_eq!(target["b"]["y"].len(), 4);
    }
}
