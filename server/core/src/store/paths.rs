//! Newest-child paths: where a branch ends, in one look-up.
//!
//! Switching to the branch through a message goes from it to its newest child (the last in
//! sibling order, greatest `(created_at, id)`) again and again. Walked a child at a time that
//! is as many look-ups as the branch is long below the message (100,000 in a long chat).
//! Instead every message carries a *path label*: a message and its newest child share one, so
//! the messages of a label form a chain from its top to its end, and the end of the branch
//! through any message is the deepest message of its label (an index on `(label, depth)`).
//!
//! Labels are kept at write time. A new message whose parent had no children continues the
//! parent's label; one that becomes its parent's newest child while another child held that
//! place splits the parent's path there: one side keeps the label and the other takes a new
//! one, and the shorter side is the one relabelled. A regenerated reply (the common fork)
//! relabels the one reply it replaces; an edit in the middle of a long chat relabels at most
//! half of it.

use std::collections::HashMap;

/// A path label. Unique across the store, not only within a session.
pub type Label = i64;

/// What decides which child is the newest: `(created_at` in milliseconds, `id)`.
pub type SiblingKey<'a> = (i64, &'a str);

/// One new message, as the labelling sees it.
#[derive(Clone, Copy, Debug)]
pub struct NewNode<'a> {
    pub id: &'a str,
    pub parent_id: Option<&'a str>,
    /// From the message's tree links (`store::tree`): the parent's depth plus one.
    pub depth: i64,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
}

/// The labels already stored, as a backend reads and changes them.
pub trait StoredPaths {
    /// The error of the backend.
    type Error;
    /// The label and depth of a stored message, `None` if it is not stored or has no label.
    fn label(&mut self, id: &str) -> Result<Option<(Label, i64)>, Self::Error>;
    /// The stored message of `label` at `depth` (`created_at` ms, id).
    fn at_depth(&mut self, label: Label, depth: i64) -> Result<Option<(i64, String)>, Self::Error>;
    /// The least and greatest depth of the stored messages of `label`.
    fn extent(&mut self, label: Label) -> Result<Option<(i64, i64)>, Self::Error>;
    /// Gives the stored messages of `label` with a depth in `depths` the label `to`.
    fn relabel(
        &mut self,
        label: Label,
        depths: std::ops::RangeInclusive<i64>,
        to: Label,
    ) -> Result<(), Self::Error>;
    /// The greatest label stored (0 when there is none).
    fn greatest_label(&mut self) -> Result<Label, Self::Error>;
}

/// Whether a stored path may be split while labelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Splits {
    /// Relabel stored messages as needed (the new rows are in the same transaction).
    Apply,
    /// Change nothing stored: a new message that would split a stored path is left without a
    /// label, and so is everything below it (an import labels those after its insert, when it
    /// knows which of its rows were new).
    Defer,
}

/// The labels of the new messages `order` (parents before children; see
/// `tree::parents_first`), given what is stored. A message whose parent is neither new nor
/// stored with a label starts a path of its own. With `Splits::Defer` the map leaves out what
/// could not be labelled without changing stored rows.
pub fn label_new<S: StoredPaths>(
    order: &[NewNode<'_>],
    stored: &mut S,
    splits: Splits,
) -> Result<HashMap<String, Label>, S::Error> {
    let mut state = Labelling {
        stored,
        splits,
        labels: HashMap::with_capacity(order.len()),
        members: HashMap::new(),
        next: None,
    };
    let index: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(at, node)| (node.id, at))
        .collect();
    // The children of each parent among the new messages, and the newest of them.
    let mut newest_new_child: HashMap<&str, usize> = HashMap::new();
    for (at, node) in order.iter().enumerate() {
        if let Some(parent) = node.parent_id {
            newest_new_child
                .entry(parent)
                .and_modify(|best| {
                    if key(&order[*best]) < key(node) {
                        *best = at;
                    }
                })
                .or_insert(at);
        }
    }
    let mut deferred: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for node in order {
        let label = match node.parent_id {
            Some(parent) if index.contains_key(parent) => {
                if deferred.contains(parent) {
                    deferred.insert(node.id);
                    continue;
                }
                let Some(&parent_label) = state.labels.get(parent) else {
                    // A parent later in `order` (a loop in the given data): its own path.
                    let fresh = state.fresh()?;
                    state.set(node.id, fresh, node.depth);
                    continue;
                };
                if newest_new_child.get(parent) == Some(&index[node.id]) {
                    parent_label
                } else {
                    state.fresh()?
                }
            }
            Some(parent) => match state.stored.label(parent)? {
                Some((parent_label, parent_depth)) => {
                    let newest_here = newest_new_child.get(parent) == Some(&index[node.id]);
                    if !newest_here {
                        state.fresh()?
                    } else {
                        match state.continue_stored(parent_label, parent_depth, key(node))? {
                            Some(label) => label,
                            None => {
                                deferred.insert(node.id);
                                continue;
                            }
                        }
                    }
                }
                None => state.fresh()?,
            },
            None => state.fresh()?,
        };
        state.set(node.id, label, node.depth);
    }
    Ok(state.labels)
}

fn key<'a>(node: &NewNode<'a>) -> SiblingKey<'a> {
    (node.created_ms, node.id)
}

struct Labelling<'s, S> {
    stored: &'s mut S,
    splits: Splits,
    /// The labels given so far.
    labels: HashMap<String, Label>,
    /// The new messages of each label given so far, with their depths.
    members: HashMap<Label, Vec<(String, i64)>>,
    next: Option<Label>,
}

impl<S: StoredPaths> Labelling<'_, S> {
    fn fresh(&mut self) -> Result<Label, S::Error> {
        let next = match self.next {
            Some(next) => next,
            None => self.stored.greatest_label()? + 1,
        };
        self.next = Some(next + 1);
        Ok(next)
    }

    fn set(&mut self, id: &str, label: Label, depth: i64) {
        self.labels.insert(id.to_owned(), label);
        self.members
            .entry(label)
            .or_default()
            .push((id.to_owned(), depth));
    }

    /// The label of a new child (with sibling key `child`) of the stored message at
    /// `parent_depth` on `label`, the newest of the parent's new children. `None` when that
    /// needs a stored path split and splits are deferred.
    fn continue_stored(
        &mut self,
        label: Label,
        parent_depth: i64,
        child: SiblingKey<'_>,
    ) -> Result<Option<Label>, S::Error> {
        // The child in the newest place now: a new one given earlier, or a stored one.
        let holder = match self.member_at(label, parent_depth + 1) {
            Some(_) => return Ok(Some(self.fresh()?)),
            None => self.stored.at_depth(label, parent_depth + 1)?,
        };
        match holder {
            None => Ok(Some(label)),
            Some((created_ms, ref id)) if (created_ms, id.as_str()) > child => {
                Ok(Some(self.fresh()?))
            }
            Some(_) if self.splits == Splits::Defer => Ok(None),
            Some(_) => self.split(label, parent_depth).map(Some),
        }
    }

    fn member_at(&self, label: Label, depth: i64) -> Option<&str> {
        self.members
            .get(&label)?
            .iter()
            .find(|(_, at)| *at == depth)
            .map(|(id, _)| id.as_str())
    }

    /// Splits `label` below the message at `depth`, whose new child becomes its newest: the
    /// shorter side moves to a new label. Returns the label the new child takes.
    fn split(&mut self, label: Label, depth: i64) -> Result<Label, S::Error> {
        let mut extent = self.stored.extent(label)?.unwrap_or((depth, depth));
        for (_, at) in self.members.get(&label).into_iter().flatten() {
            extent = (extent.0.min(*at), extent.1.max(*at));
        }
        let (top, end) = extent;
        let moved = self.fresh()?;
        if end - depth <= depth - top + 1 {
            self.relabel(label, depth + 1..=end, moved)?;
            Ok(label)
        } else {
            self.relabel(label, top..=depth, moved)?;
            Ok(moved)
        }
    }

    fn relabel(
        &mut self,
        label: Label,
        depths: std::ops::RangeInclusive<i64>,
        to: Label,
    ) -> Result<(), S::Error> {
        self.stored.relabel(label, depths.clone(), to)?;
        let Some(members) = self.members.remove(&label) else {
            return Ok(());
        };
        let (moved, kept): (Vec<_>, Vec<_>) = members
            .into_iter()
            .partition(|(_, depth)| depths.contains(depth));
        for (id, _) in &moved {
            self.labels.insert(id.clone(), to);
        }
        self.members.entry(to).or_default().extend(moved);
        if !kept.is_empty() {
            self.members.insert(label, kept);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tree::{links_in_order, parents_first};

    /// Stored rows in memory: id -> (parent, depth, created ms, label).
    #[derive(Default)]
    struct Rows(HashMap<String, (Option<String>, i64, i64, Label)>);

    impl StoredPaths for Rows {
        type Error = std::convert::Infallible;
        fn label(&mut self, id: &str) -> Result<Option<(Label, i64)>, Self::Error> {
            Ok(self.0.get(id).map(|row| (row.3, row.1)))
        }
        fn at_depth(
            &mut self,
            label: Label,
            depth: i64,
        ) -> Result<Option<(i64, String)>, Self::Error> {
            Ok(self
                .0
                .iter()
                .find(|(_, row)| row.3 == label && row.1 == depth)
                .map(|(id, row)| (row.2, id.clone())))
        }
        fn extent(&mut self, label: Label) -> Result<Option<(i64, i64)>, Self::Error> {
            let depths = self
                .0
                .values()
                .filter(|row| row.3 == label)
                .map(|row| row.1);
            Ok(depths.clone().min().zip(depths.max()))
        }
        fn relabel(
            &mut self,
            label: Label,
            depths: std::ops::RangeInclusive<i64>,
            to: Label,
        ) -> Result<(), Self::Error> {
            for row in self.0.values_mut() {
                if row.3 == label && depths.contains(&row.1) {
                    row.3 = to;
                }
            }
            Ok(())
        }
        fn greatest_label(&mut self) -> Result<Label, Self::Error> {
            Ok(self.0.values().map(|row| row.3).max().unwrap_or(0))
        }
    }

    impl Rows {
        /// Adds `batch` (id, parent, created ms) as one write, parents first.
        fn add(&mut self, batch: &[(String, Option<String>, i64)]) {
            let given: Vec<(&str, Option<&str>)> = batch
                .iter()
                .map(|(id, parent, _)| (id.as_str(), parent.as_deref()))
                .collect();
            let stored_depth: HashMap<String, i64> =
                self.0.iter().map(|(id, row)| (id.clone(), row.1)).collect();
            let links = links_in_order(parents_first(&given), |id| {
                stored_depth
                    .get(id)
                    .map(|depth| crate::store::tree::TreeLinks {
                        depth: *depth,
                        jump_id: id.to_owned(),
                        jump_depth: *depth,
                    })
            });
            let created: HashMap<&str, i64> =
                batch.iter().map(|(id, _, ms)| (id.as_str(), *ms)).collect();
            let order: Vec<NewNode> = parents_first(&given)
                .into_iter()
                .map(|(id, parent_id)| NewNode {
                    id,
                    parent_id,
                    depth: links[id].depth,
                    created_ms: created[id],
                })
                .collect();
            let labels = label_new(&order, self, Splits::Apply).expect("infallible");
            for node in &order {
                self.0.insert(
                    node.id.to_owned(),
                    (
                        node.parent_id.map(str::to_owned),
                        node.depth,
                        node.created_ms,
                        labels[node.id],
                    ),
                );
            }
        }

        /// The end of the branch through `id` by the labels.
        fn end_by_label(&self, id: &str) -> String {
            let label = self.0[id].3;
            let (end, _) = self
                .0
                .iter()
                .filter(|(_, row)| row.3 == label)
                .max_by_key(|(_, row)| row.1)
                .expect("a label has its own message");
            end.clone()
        }

        /// The same, a child at a time: the rule the labels must agree with.
        fn end_by_walk(&self, id: &str) -> String {
            let mut at = id.to_owned();
            loop {
                let newest = self
                    .0
                    .iter()
                    .filter(|(_, row)| row.0.as_deref() == Some(at.as_str()))
                    .max_by_key(|(child, row)| (row.2, (*child).clone()));
                match newest {
                    Some((child, _)) => at = child.clone(),
                    None => return at,
                }
            }
        }

        fn check(&self) {
            for id in self.0.keys() {
                assert_eq!(self.end_by_label(id), self.end_by_walk(id), "from {id}");
            }
        }
    }

    /// A small deterministic generator (xorshift), so that a failure replays.
    struct Random(u64);
    impl Random {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    #[test]
    fn a_chain_is_one_path_and_a_regenerated_reply_moves_only_itself() {
        let mut rows = Rows::default();
        let chain: Vec<(String, Option<String>, i64)> = (0..10)
            .map(|n| (format!("m{n}"), (n > 0).then(|| format!("m{}", n - 1)), n))
            .collect();
        rows.add(&chain);
        assert_eq!(
            rows.0
                .values()
                .map(|row| row.3)
                .collect::<std::collections::HashSet<_>>()
                .len(),
            1
        );
        // A new reply beside the last one: only the replaced reply takes a new label.
        rows.add(&[("r".into(), Some("m8".into()), 20)]);
        let label = rows.0["m0"].3;
        assert_eq!(rows.0["r"].3, label);
        assert_ne!(rows.0["m9"].3, label);
        assert_eq!(rows.end_by_label("m0"), "r");
        assert_eq!(rows.end_by_label("m9"), "m9");
        // An edit near the top: the top moves (two messages), the long side keeps its label.
        rows.add(&[("e".into(), Some("m1".into()), 30)]);
        assert_eq!(rows.0["m5"].3, label);
        assert_eq!(rows.end_by_label("m0"), "e");
        assert_eq!(rows.end_by_label("m2"), "r");
        rows.check();
    }

    #[test]
    fn an_older_child_added_later_does_not_take_the_newest_place() {
        let mut rows = Rows::default();
        rows.add(&[("a".into(), None, 10), ("b".into(), Some("a".into()), 20)]);
        // Imported with an earlier time than b: b stays the newest child of a.
        rows.add(&[("c".into(), Some("a".into()), 15)]);
        assert_eq!(rows.end_by_label("a"), "b");
        assert_eq!(rows.end_by_label("c"), "c");
        rows.check();
    }

    #[test]
    fn deferred_splits_leave_the_split_child_and_its_subtree_unlabelled() {
        let mut rows = Rows::default();
        rows.add(&[("a".into(), None, 10), ("b".into(), Some("a".into()), 20)]);
        let order = [
            NewNode {
                id: "c",
                parent_id: Some("a"),
                depth: 1,
                created_ms: 30,
            },
            NewNode {
                id: "d",
                parent_id: Some("c"),
                depth: 2,
                created_ms: 40,
            },
            NewNode {
                id: "old",
                parent_id: Some("a"),
                depth: 1,
                created_ms: 5,
            },
            NewNode {
                id: "x",
                parent_id: Some("b"),
                depth: 2,
                created_ms: 50,
            },
        ];
        let before = rows.0.clone();
        let labels = label_new(&order, &mut rows, Splits::Defer).expect("infallible");
        assert!(!labels.contains_key("c") && !labels.contains_key("d"));
        // b is the stored end of its path: x continues it without a split.
        assert_eq!(labels["x"], before["b"].3);
        assert!(labels.contains_key("old"));
        assert_eq!(rows.0, before, "nothing stored changed");
    }

    /// Random trees written in random batches (appends, imports in parts, forks anywhere,
    /// times out of order): from every message, the end by labels is the end by the walk.
    #[test]
    fn labels_agree_with_the_walk_on_random_trees() {
        for seed in 1..=60u64 {
            let mut random = Random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut rows = Rows::default();
            let mut ids: Vec<String> = Vec::new();
            let mut time = 0i64;
            for _ in 0..12 {
                let size = 1 + random.below(12);
                let mut batch: Vec<(String, Option<String>, i64)> = Vec::new();
                for _ in 0..size {
                    let id = format!("n{}", ids.len() + batch.len());
                    let known = ids.len() + batch.len();
                    let parent = match random.below(10) {
                        0 => None,
                        _ if known == 0 => None,
                        // Mostly the latest message (a chat), else anywhere (a fork).
                        1..=5 => Some(known - 1),
                        _ => Some(random.below(known)),
                    }
                    .map(|at| {
                        if at < ids.len() {
                            ids[at].clone()
                        } else {
                            batch[at - ids.len()].0.clone()
                        }
                    });
                    time += 1;
                    let created = if random.below(5) == 0 { time - 3 } else { time };
                    batch.push((id, parent, created));
                }
                ids.extend(batch.iter().map(|(id, _, _)| id.clone()));
                rows.add(&batch);
                rows.check();
            }
        }
    }
}
