//! The shape every source format is read into before it becomes Confab rows: a conversation as
//! nodes linked to their parents. The branch logic lives here once: which nodes are kept, how
//! the children of a dropped node move up, which times and ids the messages get, and which leaf
//! ends the active branch.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::fields::clean_title;
use super::render::limit_content;
use crate::ids::derived_id;
use crate::model::{MessageStatus, Role, DEFAULT_MESSAGE_TYPE};
use crate::service::validate;
use crate::store::{ImportSession, NewMessage, NewSession};

/// One conversation as read from a source file.
#[derive(Debug)]
pub(super) struct Conversation {
    /// The source's name in source ids, such as `chatgpt`.
    pub source: &'static str,
    /// The conversation's id in the source.
    pub key: String,
    pub title: Option<String>,
    pub time: Option<DateTime<Utc>>,
    /// When the source says the conversation last changed.
    pub updated: Option<DateTime<Utc>>,
    pub pinned: bool,
    pub archived: bool,
    pub nodes: Vec<Node>,
    /// The node the source says the user was on, when it says.
    pub current: Option<String>,
    /// The tags as the source spells them, in its order; `convert` applies the tag rule.
    pub tags: Vec<String>,
}

/// A node of the source tree. Nodes without a message (roots, hidden or system entries) are
/// not imported: their children hang from the nearest kept ancestor instead.
#[derive(Debug)]
pub(super) struct Node {
    pub key: String,
    pub parent: Option<String>,
    /// The source's own child list: used for the order of siblings and to find the parent of
    /// a node that names none.
    pub children: Vec<String>,
    pub message: Option<Turn>,
}

/// A message's content and facts, already rendered as Markdown.
#[derive(Debug)]
pub(super) struct Turn {
    pub role: Role,
    pub text: String,
    pub model: Option<String>,
    pub status: MessageStatus,
    pub time: Option<DateTime<Utc>>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
}

impl Turn {
    pub fn new(role: Role, text: String) -> Turn {
        Turn {
            role,
            text,
            model: None,
            status: MessageStatus::Complete,
            time: None,
            prompt_tokens: None,
            completion_tokens: None,
        }
    }
}

/// A conversation ready for the store, with remarks worth telling the user (a shortened
/// message, for instance).
#[derive(Debug)]
pub(super) struct Converted {
    pub session: ImportSession,
    pub notes: Vec<String>,
}

/// Who imports and when: ids depend on the owner, and `now` stands in for times a source
/// does not have.
#[derive(Clone, Debug)]
pub(super) struct Importer {
    pub user_id: String,
    pub now: DateTime<Utc>,
}

/// When a source has no times at all, ids are made from this fixed time so that they stay the
/// same on every import (the rows still show the import time).
fn id_time(time: Option<DateTime<Utc>>) -> DateTime<Utc> {
    time.unwrap_or(DateTime::UNIX_EPOCH)
}

/// Builds the session and its messages. Fails only when nothing is left to import.
pub(super) fn convert(
    conversation: Conversation,
    importer: &Importer,
) -> Result<Converted, String> {
    let Conversation {
        source,
        key,
        title,
        time,
        updated,
        pinned,
        archived,
        mut nodes,
        current,
        tags,
    } = conversation;
    let count = nodes.len();
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(count);
    for (position, node) in nodes.iter().enumerate() {
        // The first of two nodes with the same key wins; the other would get the same id.
        index.entry(node.key.as_str()).or_insert(position);
    }
    let duplicate = |position: usize, node: &Node| index.get(node.key.as_str()) != Some(&position);

    let mut parent: Vec<Option<usize>> = nodes
        .iter()
        .enumerate()
        .map(|(position, node)| {
            node.parent
                .as_deref()
                .and_then(|key| index.get(key).copied())
                .filter(|&found| found != position)
        })
        .collect();
    let named_parent: Vec<bool> = parent.iter().map(Option::is_some).collect();
    for (position, node) in nodes.iter().enumerate() {
        for child in &node.children {
            if let Some(&child) = index.get(child.as_str()) {
                if !named_parent[child] && parent[child].is_none() && child != position {
                    parent[child] = Some(position);
                }
            }
        }
    }
    break_cycles(&mut parent);

    // Children in the source's order, then any the source did not list.
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); count];
    let mut placed = vec![false; count];
    for (position, node) in nodes.iter().enumerate() {
        for child in &node.children {
            if let Some(&child) = index.get(child.as_str()) {
                if parent[child] == Some(position) && !placed[child] {
                    placed[child] = true;
                    children[position].push(child);
                }
            }
        }
    }
    for position in 0..count {
        if let Some(up) = parent[position] {
            if !placed[position] {
                placed[position] = true;
                children[up].push(position);
            }
        }
    }

    // Depth-first, parents before children, siblings in source order.
    let mut preorder = Vec::with_capacity(count);
    let mut stack: Vec<usize> = (0..count).filter(|&n| parent[n].is_none()).rev().collect();
    while let Some(node) = stack.pop() {
        preorder.push(node);
        stack.extend(children[node].iter().rev().copied());
    }

    let kept: Vec<bool> = nodes
        .iter()
        .enumerate()
        .map(|(position, node)| {
            !duplicate(position, node)
                && node
                    .message
                    .as_ref()
                    .is_some_and(|turn| !turn.text.trim().is_empty())
        })
        .collect();
    let mut kept_parent: Vec<Option<usize>> = vec![None; count];
    for &node in &preorder {
        kept_parent[node] =
            parent[node].and_then(|up| if kept[up] { Some(up) } else { kept_parent[up] });
    }

    let first_time = nodes
        .iter()
        .enumerate()
        .filter(|(position, _)| kept[*position])
        .filter_map(|(_, node)| node.message.as_ref().and_then(|turn| turn.time))
        .min();
    // Stands in for a root message without a time.
    let fallback_time = time.or(first_time);
    // A message without a time takes its parent's; one older than its parent is moved up to
    // it, so that ids (which sort by time) keep every parent before its children.
    let mut times: Vec<Option<DateTime<Utc>>> = vec![None; count];
    for &node in &preorder {
        if !kept[node] {
            continue;
        }
        let own = nodes[node].message.as_ref().and_then(|turn| turn.time);
        let inherited = kept_parent[node].and_then(|up| times[up]);
        times[node] = match (own, inherited) {
            (Some(own), Some(inherited)) => Some(own.max(inherited)),
            (Some(own), None) => Some(own),
            (None, Some(inherited)) => Some(inherited),
            (None, None) => fallback_time,
        };
    }
    let conversation_time = time.or_else(|| times.iter().flatten().min().copied());

    let mut rank = vec![0usize; count];
    for (position, &node) in preorder.iter().enumerate() {
        rank[node] = position;
    }
    let mut ordered: Vec<usize> = preorder.iter().copied().filter(|&n| kept[n]).collect();
    ordered.sort_by_key(|&n| (times[n], rank[n]));
    if ordered.is_empty() {
        return Err("the conversation has no messages to import".into());
    }

    let user_id = importer.user_id.as_str();
    let session_source = format!("{source}:{key}");
    let session_id = derived_id(id_time(conversation_time), 0, user_id, &session_source);
    let mut ids: Vec<Option<String>> = vec![None; count];
    let mut id_clock = IdClock::default();
    for (position, &node) in ordered.iter().enumerate() {
        let (time, order) = id_clock.next(id_time(times[node]), position);
        let source_key = format!("{session_source}/{}", nodes[node].key);
        ids[node] = Some(derived_id(time, order, user_id, &source_key));
    }

    let title = title
        .as_deref()
        .and_then(clean_title)
        .or_else(|| {
            let first_user = ordered.iter().find_map(|&n| {
                nodes[n]
                    .message
                    .as_ref()
                    .filter(|turn| turn.role == Role::User)
            });
            first_user
                .or_else(|| nodes[ordered[0]].message.as_ref())
                .map(|turn| validate::title_from_content(&turn.text))
                .and_then(|title| clean_title(&title))
        })
        .unwrap_or_else(|| "Imported chat".to_owned());

    let active_leaf = active_leaf(
        current.as_deref().and_then(|key| index.get(key).copied()),
        &kept,
        &kept_parent,
        &ordered,
        count,
    );

    let mut notes = Vec::new();
    let tags = crate::service::tags::source_tags(tags, &mut notes);
    let mut messages = Vec::with_capacity(ordered.len());
    for &node in &ordered {
        let Some(turn) = nodes[node].message.take() else {
            continue;
        };
        let (content, cut) = limit_content(turn.text);
        if cut {
            notes.push(format!(
                "message {} was longer than the {} KiB a message may hold and was shortened",
                nodes[node].key,
                crate::model::MAX_STORED_CONTENT_BYTES / 1024
            ));
        }
        let (status, status_reason) = crate::model::settled_status(turn.status, None, &content);
        messages.push(NewMessage {
            starred_at: None,
            id: ids[node].clone().unwrap_or_default(),
            user_id: user_id.to_owned(),
            session_id: session_id.clone(),
            parent_id: kept_parent[node].and_then(|up| ids[up].clone()),
            role: turn.role,
            content,
            message_type: DEFAULT_MESSAGE_TYPE.to_owned(),
            model: turn.model,
            prompt_tokens: turn.prompt_tokens,
            completion_tokens: turn.completion_tokens,
            latency_ms: None,
            status,
            status_reason,
            client_id: None,
            source_id: Some(format!("{session_source}/{}", nodes[node].key)),
            created_at: times[node].unwrap_or(importer.now),
            usage_estimated: false,
            follow_active_leaf: false,
            active_leaf: crate::store::LeafRule::Set,
        });
    }

    Ok(Converted {
        session: ImportSession {
            forked_from: None,
            session: NewSession {
                folder_id: None,
                id: session_id,
                user_id: user_id.to_owned(),
                title,
                source_id: Some(session_source),
                created_at: conversation_time.unwrap_or(importer.now),
            },
            pinned,
            archived,
            is_active: true,
            updated_at: updated,
            tags,
            active_leaf_id: active_leaf.and_then(|node| ids[node].clone()),
            messages,
        },
        notes,
    })
}

/// The time and order each message's id is made from, so that ids (which the store sorts by)
/// follow the import order: the millisecond of the message's time, and its position in the
/// conversation as the order. The order has 12 bits; past 4,095 messages in one millisecond
/// (a source without times, where every message shares one) the id moves on to the next
/// millisecond. Ids of conversations that never reach that stay as they always were, so
/// re-importing a file imported before still adds nothing.
#[derive(Default)]
struct IdClock {
    last: Option<(i64, u16)>,
}

/// Largest order `derived_id` keeps.
const MAX_ID_ORDER: u16 = 0x0fff;

impl IdClock {
    fn next(&mut self, time: DateTime<Utc>, position: usize) -> (DateTime<Utc>, u16) {
        let order = u16::try_from(position)
            .unwrap_or(MAX_ID_ORDER)
            .min(MAX_ID_ORDER);
        let millis = time.timestamp_millis();
        let (millis, order) = match self.last {
            Some((last_millis, last_order)) if (millis, order) <= (last_millis, last_order) => {
                if last_order < MAX_ID_ORDER {
                    (last_millis, last_order + 1)
                } else {
                    (last_millis + 1, 0)
                }
            }
            _ => (millis, order),
        };
        self.last = Some((millis, order));
        let time = if millis == time.timestamp_millis() {
            time
        } else {
            DateTime::from_timestamp_millis(millis).unwrap_or(time)
        };
        (time, order)
    }
}

/// Cuts every cycle of parent links: the node where a walk up meets itself becomes a root.
fn break_cycles(parent: &mut [Option<usize>]) {
    const NEW: u8 = 0;
    const ON_PATH: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; parent.len()];
    let mut path = Vec::new();
    for start in 0..parent.len() {
        let mut node = Some(start);
        while let Some(current) = node {
            match state[current] {
                DONE => break,
                ON_PATH => {
                    parent[current] = None;
                    break;
                }
                _ => {
                    state[current] = ON_PATH;
                    path.push(current);
                    node = parent[current];
                }
            }
        }
        for done in path.drain(..) {
            state[done] = DONE;
        }
    }
}

/// The message ending the branch the source names: from the named node (or its nearest kept
/// ancestor when it is hidden) down through the newest children. Without one, the newest leaf.
fn active_leaf(
    current: Option<usize>,
    kept: &[bool],
    kept_parent: &[Option<usize>],
    ordered: &[usize],
    count: usize,
) -> Option<usize> {
    // Position in time order, so "newest" is simply the largest.
    let mut position = vec![usize::MAX; count];
    let mut kept_children: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (place, &node) in ordered.iter().enumerate() {
        position[node] = place;
        if let Some(up) = kept_parent[node] {
            kept_children[up].push(node);
        }
    }
    let start = current.and_then(|node| {
        if kept[node] {
            Some(node)
        } else {
            kept_parent[node]
        }
    });
    match start {
        Some(mut node) => {
            while let Some(&newest) = kept_children[node].iter().max_by_key(|&&c| position[c]) {
                node = newest;
            }
            Some(node)
        }
        None => ordered
            .iter()
            .rev()
            .copied()
            .find(|&node| kept_children[node].is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn importer() -> Importer {
        Importer {
            user_id: "user-1".into(),
            now: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        }
    }

    fn node(key: &str, parent: Option<&str>, text: Option<&str>, secs: Option<i64>) -> Node {
        Node {
            key: key.into(),
            parent: parent.map(str::to_owned),
            children: Vec::new(),
            message: text.map(|text| Turn {
                time: secs.and_then(|secs| DateTime::from_timestamp(secs, 0)),
                ..Turn::new(Role::User, text.into())
            }),
        }
    }

    fn conversation(nodes: Vec<Node>, current: Option<&str>) -> Conversation {
        Conversation {
            source: "test",
            key: "c1".into(),
            title: None,
            time: None,
            updated: None,
            pinned: false,
            archived: false,
            nodes,
            current: current.map(str::to_owned),
            tags: Vec::new(),
        }
    }

    fn content_of(converted: &Converted, id: &str) -> String {
        converted
            .session
            .messages
            .iter()
            .find(|m| m.id == id)
            .map(|m| m.content.clone())
            .unwrap_or_default()
    }

    #[test]
    fn hidden_nodes_are_bridged_and_missing_parents_become_roots() {
        let converted = convert(
            conversation(
                vec![
                    node("root", None, None, None),
                    node("hidden", Some("root"), Some("  "), Some(5)),
                    node("a", Some("hidden"), Some("first"), Some(10)),
                    node("b", Some("a"), Some("second"), Some(20)),
                    node("orphan", Some("gone"), Some("orphan"), Some(30)),
                ],
                None,
            ),
            &importer(),
        )
        .unwrap();
        let messages = &converted.session.messages;
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[0].content, "first");
        assert_eq!(messages[0].parent_id, None, "bridged over the hidden node");
        assert_eq!(messages[1].parent_id.as_ref(), Some(&messages[0].id));
        assert_eq!(messages[2].parent_id, None, "a missing parent makes a root");
        assert_eq!(converted.session.session.title, "first");
        // No current node: the newest leaf.
        assert_eq!(
            converted.session.active_leaf_id.as_deref(),
            Some(messages[2].id.as_str())
        );
    }

    #[test]
    fn cycles_end() {
        let converted = convert(
            conversation(
                vec![
                    node("a", Some("c"), Some("a"), Some(1)),
                    node("b", Some("a"), Some("b"), Some(2)),
                    node("c", Some("b"), Some("c"), Some(3)),
                    node("self", Some("self"), Some("self"), Some(4)),
                ],
                Some("a"),
            ),
            &importer(),
        )
        .unwrap();
        assert_eq!(converted.session.messages.len(), 4);
        let roots = converted
            .session
            .messages
            .iter()
            .filter(|m| m.parent_id.is_none())
            .count();
        assert_eq!(roots, 2);
    }

    #[test]
    fn times_fall_back_and_never_precede_the_parent() {
        let converted = convert(
            conversation(
                vec![
                    node("a", None, Some("a"), Some(100)),
                    node("b", Some("a"), Some("b"), None),
                    node("c", Some("b"), Some("c"), Some(50)),
                ],
                None,
            ),
            &importer(),
        )
        .unwrap();
        let times: Vec<i64> = converted
            .session
            .messages
            .iter()
            .map(|m| m.created_at.timestamp())
            .collect();
        assert_eq!(times, vec![100, 100, 100]);
        let ids: Vec<&String> = converted.session.messages.iter().map(|m| &m.id).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "ids in order");
        assert_eq!(converted.session.session.created_at.timestamp(), 100);
    }

    #[test]
    fn the_named_branch_is_followed_to_its_end() {
        let nodes = vec![
            node("q", None, Some("question"), Some(1)),
            node("a1", Some("q"), Some("answer one"), Some(2)),
            node("a2", Some("q"), Some("answer two"), Some(3)),
            node("f1", Some("a1"), Some("follow-up"), Some(4)),
        ];
        let converted = convert(conversation(nodes, Some("a1")), &importer()).unwrap();
        let leaf = converted.session.active_leaf_id.clone().unwrap();
        assert_eq!(content_of(&converted, &leaf), "follow-up");
    }

    #[test]
    fn no_times_at_all_gives_stable_ids() {
        let make = || {
            conversation(
                vec![
                    node("a", None, Some("a"), None),
                    node("b", Some("a"), Some("b"), None),
                ],
                None,
            )
        };
        let first = convert(make(), &importer()).unwrap();
        let later = Importer {
            now: DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
            ..importer()
        };
        let second = convert(make(), &later).unwrap();
        assert_eq!(first.session.session.id, second.session.session.id);
        assert_eq!(first.session.messages[1].id, second.session.messages[1].id);
        assert_eq!(
            first.session.messages[0].created_at,
            importer().now,
            "shown at the import time"
        );
    }

    #[test]
    fn empty_conversations_are_refused() {
        let error = convert(
            conversation(vec![node("root", None, None, None)], None),
            &importer(),
        )
        .unwrap_err();
        assert!(error.contains("no messages"));
    }
}
