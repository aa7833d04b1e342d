//! Where a message sits in its conversation's tree, kept at write time so that reading a
//! branch costs what the page holds, not what the session holds.
//!
//! Every message stores its `depth` (a root is 0, a child one more than its parent) and one
//! jump pointer: an ancestor chosen by the skew-binary rule (Myers, "An applicative random-access
//! stack", 1983). Following jumps where they do not overshoot and parents otherwise finds the
//! ancestor at any depth in O(log depth) steps (`ancestor_step`), and a new message's jump
//! needs only its parent and its parent's jump target (`child_links`): two look-ups per write.

use std::collections::HashMap;

/// The tree fields of one stored message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeLinks {
    /// 0 for a root.
    pub depth: i64,
    /// The jump target: an ancestor (a root's is itself).
    pub jump_id: String,
    /// `jump_id`'s depth.
    pub jump_depth: i64,
}

impl TreeLinks {
    /// The links of a message without a parent (or whose parent is missing).
    pub fn root(id: &str) -> TreeLinks {
        TreeLinks {
            depth: 0,
            jump_id: id.to_owned(),
            jump_depth: 0,
        }
    }
}

/// The links of a new child of `parent_id`, given the parent's links and those of the
/// parent's jump target. The jump skips as far as the parent's jump and that jump's own jump
/// together when both cover the same distance; else it is the parent.
pub fn child_links(parent_id: &str, parent: &TreeLinks, parent_jump: &TreeLinks) -> TreeLinks {
    let depth = parent.depth + 1;
    if parent.depth - parent.jump_depth == parent.jump_depth - parent_jump.jump_depth {
        TreeLinks {
            depth,
            jump_id: parent_jump.jump_id.clone(),
            jump_depth: parent_jump.jump_depth,
        }
    } else {
        TreeLinks {
            depth,
            jump_id: parent_id.to_owned(),
            jump_depth: parent.depth,
        }
    }
}

/// One message of a spine (see `Spine`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SpineEntry {
    pub id: String,
    pub depth: i64,
}

/// A message and its chain of jump targets up to the root, nearest first: `[m, m's jump,
/// that one's jump, ..., root]` (a root's spine is itself alone). It holds every link a new
/// child of `m` needs (`child_of_spine`) and is short: about 2 log2 of the depth (23 entries
/// at depth 100,000). The MongoDB backend keeps the active leaf's spine in its session, so
/// an append that follows the leaf reads no message.
pub type Spine = Vec<SpineEntry>;

/// The links of a new message `id` under `spine[0]`, and the new message's own spine. `None`
/// for an empty spine.
pub fn child_of_spine(spine: &[SpineEntry], id: &str) -> Option<(TreeLinks, Spine)> {
    let parent = spine.first()?;
    // A root's jump is itself; so is the jump of a spine's last entry.
    let jump = spine.get(1).unwrap_or(parent);
    let jump_jump = spine.get(2).unwrap_or(jump);
    let parent_links = TreeLinks {
        depth: parent.depth,
        jump_id: jump.id.clone(),
        jump_depth: jump.depth,
    };
    let jump_links = TreeLinks {
        depth: jump.depth,
        jump_id: jump_jump.id.clone(),
        jump_depth: jump_jump.depth,
    };
    let links = child_links(&parent.id, &parent_links, &jump_links);
    let from = spine
        .iter()
        .position(|entry| entry.id == links.jump_id)
        .unwrap_or(0);
    let mut child = Vec::with_capacity(spine.len() + 1 - from);
    child.push(SpineEntry {
        id: id.to_owned(),
        depth: links.depth,
    });
    child.extend_from_slice(&spine[from..]);
    Some((links, child))
}

/// One message as the ancestor walk sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeNode {
    pub id: String,
    pub parent_id: Option<String>,
    pub links: TreeLinks,
}

/// The next message to read on the way from `node` up to its ancestor at `target` depth:
/// the jump target when it does not overshoot, else the parent. `None` when `node` is at (or
/// above) the target, or the stored tree is broken (no parent).
pub fn ancestor_step(node: &TreeNode, target: i64) -> Option<&str> {
    if node.links.depth <= target {
        return None;
    }
    if node.links.jump_depth >= target && node.links.jump_depth < node.links.depth {
        Some(node.links.jump_id.as_str())
    } else {
        node.parent_id.as_deref()
    }
}

/// The most steps an ancestor walk takes (about 3 log2 of any depth a session can reach);
/// stops a walk in stored data that loops.
pub const MAX_ANCESTOR_STEPS: usize = 200;

/// The links of every message in `order` (parents before children where possible), from
/// their parents: those computed here, else what `stored` gives for a message stored before
/// (`None` if it has no links or does not exist). A message whose parent is neither (missing,
/// or part of a loop) is taken for a root.
///
/// `stored` is asked for the parents outside `order` and for the jump targets of parents,
/// which may lie far above the messages given: a batch of an import hangs under a part
/// imported before, and the rule needs the jump target's own jump. (Taking an unknown jump
/// target for a root gave valid but short jumps: walks over a long conversation imported in
/// parts then took more than `MAX_ANCESTOR_STEPS` and found nothing.)
pub fn links_in_order<'a>(
    order: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    mut stored: impl FnMut(&str) -> Option<TreeLinks>,
) -> HashMap<String, TreeLinks> {
    let mut computed: HashMap<String, TreeLinks> = HashMap::new();
    for (id, parent_id) in order {
        let mut look_up = |id: &str| computed.get(id).cloned().or_else(|| stored(id));
        let links = parent_id
            .and_then(|parent_id| {
                let parent = look_up(parent_id)?;
                let parent_jump =
                    look_up(&parent.jump_id).unwrap_or_else(|| TreeLinks::root(&parent.jump_id));
                Some(child_links(parent_id, &parent, &parent_jump))
            })
            .unwrap_or_else(|| TreeLinks::root(id));
        computed.insert(id.to_owned(), links);
    }
    computed
}

/// The order in which to give messages to `links_in_order` so that every parent comes before
/// its children: by depth from the roots. Messages not reachable from a root (their parent is
/// missing, or they form a loop) come last, in their given order.
pub fn parents_first<'a>(
    messages: &[(&'a str, Option<&'a str>)],
) -> Vec<(&'a str, Option<&'a str>)> {
    let ids: std::collections::HashSet<&str> = messages.iter().map(|(id, _)| *id).collect();
    let mut children: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut queue = std::collections::VecDeque::new();
    for (index, (_, parent)) in messages.iter().enumerate() {
        match parent {
            Some(parent) if ids.contains(parent) => children.entry(parent).or_default().push(index),
            _ => queue.push_back(index),
        }
    }
    let mut placed = vec![false; messages.len()];
    let mut order = Vec::with_capacity(messages.len());
    while let Some(index) = queue.pop_front() {
        if std::mem::replace(&mut placed[index], true) {
            continue;
        }
        order.push(messages[index]);
        if let Some(below) = children.get(messages[index].0) {
            queue.extend(below.iter().copied());
        }
    }
    for (index, message) in messages.iter().enumerate() {
        if !placed[index] {
            order.push(*message);
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain of `length` messages named "0", "1", ... with their links.
    fn chain(length: usize) -> Vec<TreeNode> {
        let names: Vec<String> = (0..length).map(|n| n.to_string()).collect();
        let order: Vec<(&str, Option<&str>)> = names
            .iter()
            .enumerate()
            .map(|(n, id)| (id.as_str(), n.checked_sub(1).map(|p| names[p].as_str())))
            .collect();
        let links = links_in_order(order.iter().copied(), |_| None);
        order
            .iter()
            .map(|(id, parent)| TreeNode {
                id: id.to_string(),
                parent_id: parent.map(str::to_owned),
                links: links[*id].clone(),
            })
            .collect()
    }

    #[test]
    fn jumps_follow_the_skew_binary_rule() {
        let nodes = chain(8);
        let jumps: Vec<(i64, &str)> = nodes
            .iter()
            .map(|node| (node.links.depth, node.links.jump_id.as_str()))
            .collect();
        assert_eq!(
            jumps,
            [
                (0, "0"),
                (1, "0"),
                (2, "1"),
                (3, "0"),
                (4, "3"),
                (5, "4"),
                (6, "3"),
                (7, "0")
            ]
        );
    }

    #[test]
    fn links_from_spines_are_the_links_computed_from_parents() {
        let nodes = chain(5_000);
        let mut spine = vec![SpineEntry {
            id: "0".into(),
            depth: 0,
        }];
        let by_id: HashMap<&str, &TreeNode> =
            nodes.iter().map(|node| (node.id.as_str(), node)).collect();
        let mut longest = spine.len();
        for node in &nodes[1..] {
            let (links, child) = child_of_spine(&spine, &node.id).expect("a spine");
            assert_eq!(links, node.links, "message {}", node.id);
            // The spine is the jump chain: each entry's jump is the next one.
            for pair in child.windows(2) {
                let stored = &by_id[pair[0].id.as_str()].links;
                assert_eq!(
                    (stored.depth, stored.jump_id.as_str()),
                    (pair[0].depth, pair[1].id.as_str())
                );
            }
            assert_eq!(child.last().map(|entry| entry.id.as_str()), Some("0"));
            longest = longest.max(child.len());
            spine = child;
        }
        // About 2 log2(5,000).
        assert!(longest <= 26, "a spine of {longest} entries");
        assert!(child_of_spine(&[], "x").is_none());
    }

    #[test]
    fn every_ancestor_is_found_in_few_steps() {
        let nodes = chain(5_000);
        let by_id: HashMap<&str, &TreeNode> =
            nodes.iter().map(|node| (node.id.as_str(), node)).collect();
        let mut most_steps = 0;
        for from in [4_999_usize, 4_096, 1_234, 17] {
            for target in 0..=from as i64 {
                let mut node = by_id[from.to_string().as_str()];
                let mut steps = 0;
                while let Some(next) = ancestor_step(node, target) {
                    node = by_id[next];
                    steps += 1;
                }
                assert_eq!(node.links.depth, target);
                assert_eq!(node.id, target.to_string());
                most_steps = most_steps.max(steps);
            }
        }
        assert!(most_steps <= 3 * 13, "{most_steps} steps");
    }

    #[test]
    fn parents_come_first_and_orphans_and_loops_last() {
        let given = [
            ("c", Some("b")),
            ("b", Some("a")),
            ("x", Some("y")),
            ("y", Some("x")),
            ("a", None),
            ("o", Some("gone")),
        ];
        let order: Vec<&str> = parents_first(&given).iter().map(|(id, _)| *id).collect();
        assert_eq!(order, ["a", "o", "b", "c", "x", "y"]);
        let links = links_in_order(parents_first(&given), |_| None);
        assert_eq!(links["c"].depth, 2);
        assert_eq!(links["o"], TreeLinks::root("o"));
        // A loop: "x" is taken for a root, "y" hangs under it.
        assert_eq!(links["x"], TreeLinks::root("x"));
        assert_eq!(links["y"].depth, 1);
    }

    /// Links computed a batch at a time, each batch reading what the ones before stored, are
    /// the links computed in one go: whatever the batch size, on a chain and on a branched tree.
    #[test]
    fn links_computed_in_batches_are_the_links_computed_at_once() {
        // A chain of 10,000 with a second child every 7th message (a regenerated reply).
        let mut given: Vec<(String, Option<String>)> = Vec::new();
        let mut parent: Option<String> = None;
        for n in 0..10_000 {
            let id = format!("m{n}");
            if n % 7 == 3 {
                given.push((format!("{id}-other"), parent.clone()));
            }
            given.push((id.clone(), parent.clone()));
            parent = Some(id);
        }
        let all: Vec<(&str, Option<&str>)> = given
            .iter()
            .map(|(id, parent)| (id.as_str(), parent.as_deref()))
            .collect();
        let at_once = links_in_order(parents_first(&all), |_| None);
        assert_eq!(at_once["m9999"].depth, 9_999);
        for size in [1, 7, 2_000, 4_096] {
            let mut stored: HashMap<String, TreeLinks> = HashMap::new();
            for batch in all.chunks(size) {
                let links = links_in_order(parents_first(batch), |id| stored.get(id).cloned());
                stored.extend(links);
            }
            assert_eq!(stored.len(), at_once.len());
            for (id, links) in &at_once {
                assert_eq!(&stored[id], links, "{id} in batches of {size}");
            }
        }
    }
}
