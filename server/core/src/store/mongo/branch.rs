//! The conversation tree, a page at a time, in a few round trips each: a message's `depth`
//! (kept at write time, see `store::tree`) turns "the next N ancestors" into one query for the
//! messages at those depths (`messages_by_depth`), walked in memory, then one `_id: {$in}` for
//! the page itself. Neither `$graphLookup` nor `$lookup` is used: FerretDB 1.24 has neither.

use std::collections::{HashMap, HashSet};

use futures::TryStreamExt;
use mongodb::bson::{self, doc, Document};
use serde::Deserialize;

use super::chat::session_exists;
use super::documents::{without_terms, MessageDoc};
use super::errors::db_error;
use super::Collections;
use crate::model::Message;
use crate::store::tree::{
    ancestor_step, child_links, links_in_order, parents_first, Spine, SpineEntry, TreeLinks,
    TreeNode, MAX_ANCESTOR_STEPS,
};
use crate::store::{BranchWindow, StoreResult, TreeMessage};

/// Depths read per query when walking further than a page (an ancestor far up, the newest
/// descendant far down).
const DEPTH_WINDOW: i64 = 1_000;

/// The tree fields of a message, read without its text.
#[derive(Debug, Deserialize)]
struct NodeDoc {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    session_id: String,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    depth: Option<i64>,
    #[serde(default)]
    jump_id: Option<String>,
    #[serde(default)]
    jump_depth: Option<i64>,
    #[serde(default)]
    created_at: Option<bson::DateTime>,
}

impl NodeDoc {
    fn depth(&self) -> i64 {
        self.depth.unwrap_or(0)
    }

    fn tree_node(&self) -> TreeNode {
        TreeNode {
            id: self.id.clone(),
            parent_id: self.parent_id.clone(),
            links: TreeLinks {
                depth: self.depth(),
                jump_id: self.jump_id.clone().unwrap_or_else(|| self.id.clone()),
                jump_depth: self.jump_depth.unwrap_or(0),
            },
        }
    }

    fn links(&self) -> Option<TreeLinks> {
        Some(TreeLinks {
            depth: self.depth?,
            jump_id: self.jump_id.clone()?,
            jump_depth: self.jump_depth?,
        })
    }
}

fn node_projection() -> Document {
    doc! {
        "_id": 1, "user_id": 1, "session_id": 1, "parent_id": 1, "depth": 1, "jump_id": 1,
        "jump_depth": 1, "created_at": 1,
    }
}

async fn find_nodes(collections: &Collections, filter: Document) -> StoreResult<Vec<NodeDoc>> {
    collections
        .messages
        .clone_with_type::<NodeDoc>()
        .find(filter)
        .projection(node_projection())
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)
}

/// A message of the session, by id: with the owner where queries are routed (see
/// `Collections::by_id`), else by id alone, and the owner and the session checked here.
async fn find_node(
    collections: &Collections,
    user_id: &str,
    session_id: &str,
    id: &str,
) -> StoreResult<Option<NodeDoc>> {
    let found = collections
        .messages
        .clone_with_type::<NodeDoc>()
        .find_one(collections.by_id(Some(user_id), doc! { "_id": id }))
        .projection(node_projection())
        .await
        .map_err(db_error)?;
    Ok(found.filter(|node| node.user_id == user_id && node.session_id == session_id))
}

/// A message of the session while the session lives (not deleted): both read together.
async fn node_of_live_session(
    collections: &Collections,
    user_id: &str,
    session_id: &str,
    id: &str,
) -> StoreResult<Option<NodeDoc>> {
    let (exists, node) = futures::join!(
        session_exists(collections, user_id, session_id),
        find_node(collections, user_id, session_id, id),
    );
    if !exists? {
        return Ok(None);
    }
    node
}

/// Rounds of reads `links_of` makes at most: each reads the jump targets met in the round
/// before, about two per level of the skew-binary jumps above the batch (34 for a depth of
/// 100,000).
const MAX_LINK_ROUNDS: usize = 64;

/// The links of the messages `given` (id, parent id), inserted together: a parent among them
/// first, else its stored links; a missing parent makes a root. What the batch hangs from is
/// read in rounds, one `$in` query each: the parents outside it first, then the jump targets
/// the computation meets above them (see `tree::links_in_order`), until none is missing.
async fn links_of(
    collections: &Collections,
    user_id: Option<&str>,
    given: &[(&str, Option<&str>)],
) -> StoreResult<HashMap<String, TreeLinks>> {
    let ids: HashSet<&str> = given.iter().map(|(id, _)| *id).collect();
    let order = parents_first(given);
    let mut known: HashMap<String, TreeLinks> = HashMap::new();
    // Asked for and not stored (or stored without links): never asked for again.
    let mut absent: HashSet<String> = HashSet::new();
    let mut wanted: HashSet<String> = given
        .iter()
        .filter_map(|(_, parent)| *parent)
        .filter(|parent| !ids.contains(parent))
        .map(str::to_owned)
        .collect();
    for _ in 0..MAX_LINK_ROUNDS {
        if !wanted.is_empty() {
            let asked: Vec<String> = wanted.drain().collect();
            let filter = collections.by_id(user_id, doc! { "_id": { "$in": &asked } });
            for node in find_nodes(collections, filter).await? {
                if let Some(links) = node.links() {
                    known.insert(node.id, links);
                }
            }
            absent.extend(asked.into_iter().filter(|id| !known.contains_key(id)));
        }
        let links = links_in_order(order.iter().copied(), |id| {
            let found = known.get(id).cloned();
            if found.is_none() && !absent.contains(id) && !ids.contains(id) {
                wanted.insert(id.to_owned());
            }
            found
        });
        if wanted.is_empty() {
            return Ok(links);
        }
    }
    // Not reached with a well-formed tree; stored data that keeps asking gets roots for what
    // is missing rather than an endless loop.
    Ok(links_in_order(order.iter().copied(), |id| {
        known.get(id).cloned()
    }))
}

/// The links of a new message under `parent` (already read by the append): one look-up, of
/// the parent's jump target.
pub async fn links_under(
    collections: &Collections,
    id: &str,
    parent: Option<&MessageDoc>,
) -> StoreResult<TreeLinks> {
    let Some((parent, links)) = parent.and_then(|parent| Some((parent, parent.links()?))) else {
        return Ok(TreeLinks::root(id));
    };
    let jump = find_node(
        collections,
        &parent.user_id,
        &parent.session_id,
        &links.jump_id,
    )
    .await?
    .and_then(|node| node.links())
    .unwrap_or_else(|| TreeLinks::root(&links.jump_id));
    Ok(child_links(&parent.id, &links, &jump))
}

/// The spine of `message` (see `tree::Spine`): the message, then its jump targets read one
/// by one up to the root (about 2 log2 of its depth reads). `None` when a link is missing
/// (a message stored before links, or a broken chain).
pub async fn spine_of(
    collections: &Collections,
    message: &MessageDoc,
) -> StoreResult<Option<Spine>> {
    let Some(mut links) = message.links() else {
        return Ok(None);
    };
    let mut spine = vec![SpineEntry {
        id: message.id.clone(),
        depth: links.depth,
    }];
    for _ in 0..MAX_ANCESTOR_STEPS {
        if links.depth == 0 {
            return Ok(Some(spine));
        }
        let jump = find_node(
            collections,
            &message.user_id,
            &message.session_id,
            &links.jump_id,
        )
        .await?;
        let Some((jump, jump_links)) = jump.and_then(|node| {
            let links = node.links()?;
            Some((node.id, links))
        }) else {
            return Ok(None);
        };
        if jump_links.depth >= links.depth {
            return Ok(None);
        }
        spine.push(SpineEntry {
            id: jump,
            depth: jump_links.depth,
        });
        links = jump_links;
    }
    Ok(None)
}

/// Sets the links of messages about to be inserted together (an import: parents before
/// children, or under messages stored before).
pub async fn link_documents(
    collections: &Collections,
    documents: &mut [MessageDoc],
) -> StoreResult<()> {
    let given: Vec<(&str, Option<&str>)> = documents
        .iter()
        .map(|d| (d.id.as_str(), d.parent_id.as_deref()))
        .collect();
    // One owner (an import's), by whom the reads are routed.
    let owner = documents.first().map(|d| d.user_id.as_str());
    let owner = owner.filter(|owner| documents.iter().all(|d| d.user_id == *owner));
    let mut links = links_of(collections, owner, &given).await?;
    for document in documents.iter_mut() {
        let own = links
            .remove(&document.id)
            .unwrap_or_else(|| TreeLinks::root(&document.id));
        document.set_links(own);
    }
    Ok(())
}

/// Links the messages stored before the tree links existed, a session at a time. Run at
/// connect; a no-op once done. Returns how many messages it linked.
pub async fn link_missing(collections: &Collections) -> StoreResult<usize> {
    let unlinked = doc! { "depth": { "$exists": false } };
    let sessions = collections
        .messages
        .distinct("session_id", unlinked.clone())
        .await
        .map_err(db_error)?;
    let mut linked = 0;
    for session in sessions {
        let Some(session_id) = session.as_str() else {
            continue;
        };
        let mut filter = unlinked.clone();
        filter.insert("session_id", session_id);
        let pending = find_nodes(collections, filter).await?;
        let given: Vec<(&str, Option<&str>)> = pending
            .iter()
            .map(|node| (node.id.as_str(), node.parent_id.as_deref()))
            .collect();
        let owner = pending.first().map(|node| node.user_id.as_str());
        let links = links_of(collections, owner, &given).await?;
        for node in &pending {
            let own = links
                .get(&node.id)
                .cloned()
                .unwrap_or_else(|| TreeLinks::root(&node.id));
            collections
                .messages
                .update_one(
                    doc! { "_id": &node.id },
                    doc! { "$set": {
                        "depth": own.depth,
                        "jump_id": own.jump_id,
                        "jump_depth": own.jump_depth,
                    } },
                )
                .await
                .map_err(db_error)?;
        }
        linked += pending.len();
    }
    Ok(linked)
}

/// The messages of the session at depths `low..high`, by id.
async fn nodes_at_depths(
    collections: &Collections,
    user_id: &str,
    session_id: &str,
    low: i64,
    high: i64,
) -> StoreResult<HashMap<String, NodeDoc>> {
    let found = find_nodes(
        collections,
        doc! {
            "user_id": user_id,
            "session_id": session_id,
            "depth": { "$gte": low, "$lt": high },
        },
    )
    .await?;
    Ok(found
        .into_iter()
        .map(|node| (node.id.clone(), node))
        .collect())
}

/// The ids from `start`'s parent upward through `nodes`, at most `count` of them.
fn walk_up(start: &NodeDoc, nodes: &HashMap<String, NodeDoc>, count: usize) -> Vec<String> {
    let mut chain = Vec::new();
    let mut next = start.parent_id.as_deref();
    while let Some(id) = next.filter(|_| chain.len() < count) {
        let Some(node) = nodes.get(id) else {
            break;
        };
        chain.push(node.id.clone());
        next = node.parent_id.as_deref();
    }
    chain
}

/// A message of the session, without its search terms (by id alone, as `find_node`).
async fn find_doc(
    collections: &Collections,
    user_id: &str,
    session_id: &str,
    id: &str,
) -> StoreResult<Option<MessageDoc>> {
    let found = collections
        .messages
        .find_one(collections.by_id(Some(user_id), doc! { "_id": id }))
        .projection(without_terms())
        .await
        .map_err(db_error)?;
    Ok(found.filter(|document| document.user_id == user_id && document.session_id == session_id))
}

fn tree_message(document: MessageDoc) -> StoreResult<TreeMessage> {
    let depth = document.depth.unwrap_or(0);
    Ok(TreeMessage {
        message: document.into_message()?,
        depth,
    })
}

/// `from` and up to `limit - 1` ancestors (newest first), and every message at their depths
/// (`from`'s included when `with_siblings`). The session's check and `from` are read together;
/// the depths with them when `from`'s depth is known (a message of a spine this process
/// remembers, or the top of a window it read: `depths`; used only when it equals the depth read, since an append may still re-parent
/// its message), else after: one round trip or two. FerretDB
/// reads the collection for a query on anything but `_id`, so they are few rather than small.
async fn window(
    collections: &Collections,
    user_id: &str,
    session_id: &str,
    from: &str,
    limit: usize,
    with_siblings: bool,
) -> StoreResult<(Vec<MessageDoc>, Vec<MessageDoc>)> {
    if limit == 0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let above = i64::try_from(limit - 1).unwrap_or(i64::MAX);
    let depths = |depth: i64| {
        let highest = if with_siblings { depth + 1 } else { depth };
        depth_range(
            collections,
            user_id,
            session_id,
            depth.saturating_sub(above),
            highest,
        )
    };
    let known_depth = collections
        .leaves
        .get(user_id, session_id)
        .and_then(|leaf| {
            leaf.spine
                .iter()
                .find(|entry| entry.id == from)
                .map(|e| e.depth)
        })
        .or_else(|| collections.depths.get(user_id, from))
        .filter(|_| limit > 1 || with_siblings);
    let (exists, start, found) = match known_depth {
        Some(depth) => {
            let (exists, start, found) = futures::join!(
                session_exists(collections, user_id, session_id),
                find_doc(collections, user_id, session_id, from),
                depths(depth),
            );
            (exists?, start?, Some(found?))
        }
        None => {
            let (exists, start) = futures::join!(
                session_exists(collections, user_id, session_id),
                find_doc(collections, user_id, session_id, from),
            );
            (exists?, start?, None)
        }
    };
    let Some(start) = start.filter(|_| exists) else {
        return Ok((Vec::new(), Vec::new()));
    };
    let depth = start.depth.unwrap_or(0);
    if (limit == 1 || start.parent_id.is_none()) && !with_siblings {
        return Ok((vec![start], Vec::new()));
    }
    let found = match found.filter(|_| known_depth == Some(depth)) {
        Some(found) => found,
        None => depths(depth).await?,
    };
    let by_id: HashMap<String, MessageDoc> =
        found.into_iter().map(|doc| (doc.id.clone(), doc)).collect();
    let mut next = start.parent_id.clone();
    let mut chain = vec![start];
    while let Some(id) = next.take().filter(|_| chain.len() < limit) {
        let Some(document) = by_id.get(&id) else {
            break;
        };
        next = document.parent_id.clone();
        chain.push(document.clone());
    }
    // The top of the window is the cursor of the page above it (`before`).
    if let Some(top) = chain.last().filter(|_| chain.len() > 1) {
        collections
            .depths
            .set(user_id, &top.id, top.depth.unwrap_or(0));
    }
    Ok((chain, by_id.into_values().collect()))
}

/// The session's messages at depths `low..high`, without their terms.
async fn depth_range(
    collections: &Collections,
    user_id: &str,
    session_id: &str,
    low: i64,
    high: i64,
) -> StoreResult<Vec<MessageDoc>> {
    collections
        .messages
        .find(doc! {
            "user_id": user_id,
            "session_id": session_id,
            "depth": { "$gte": low, "$lt": high },
        })
        .projection(without_terms())
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)
}

/// See `Store::ancestors`.
pub async fn ancestors(
    collections: &Collections,
    user_id: &str,
    session_id: &str,
    from: &str,
    limit: usize,
) -> StoreResult<Vec<TreeMessage>> {
    let (chain, _) = window(collections, user_id, session_id, from, limit, false).await?;
    chain.into_iter().map(tree_message).collect()
}

/// See `Store::branch_window`: the siblings come with the depths read for the page.
pub async fn branch_window(
    collections: &Collections,
    user_id: &str,
    session_id: &str,
    from: &str,
    limit: usize,
) -> StoreResult<BranchWindow> {
    let (chain, others) = window(collections, user_id, session_id, from, limit, true).await?;
    let parents: HashSet<Option<String>> = chain
        .iter()
        .map(|document| document.parent_id.clone())
        .collect();
    let mut siblings = Vec::new();
    for document in others {
        if parents.contains(&document.parent_id) {
            siblings.push(document.into_message()?);
        }
    }
    Ok(BranchWindow {
        messages: chain
            .into_iter()
            .map(tree_message)
            .collect::<StoreResult<_>>()?,
        siblings,
    })
}

/// See `Store::ancestor_at`: near ancestors with one query for the depths between, far ones
/// along the jump pointers (O(log depth) look-ups).
pub async fn ancestor_at(
    collections: &Collections,
    user_id: &str,
    session_id: &str,
    from: &str,
    depth: i64,
) -> StoreResult<Option<TreeMessage>> {
    if depth < 0 {
        return Ok(None);
    }
    let Some(start) = node_of_live_session(collections, user_id, session_id, from).await? else {
        return Ok(None);
    };
    let distance = start.depth() - depth;
    if distance < 0 {
        return Ok(None);
    }
    let found = if distance == 0 {
        Some(start.id.clone())
    } else if distance <= DEPTH_WINDOW {
        let nodes = nodes_at_depths(collections, user_id, session_id, depth, start.depth()).await?;
        walk_up(&start, &nodes, distance as usize)
            .pop()
            .filter(|id| nodes.get(id).is_some_and(|node| node.depth() == depth))
    } else {
        let mut node = start.tree_node();
        for _ in 0..MAX_ANCESTOR_STEPS {
            let Some(next) = ancestor_step(&node, depth) else {
                break;
            };
            let Some(found) = find_node(collections, user_id, session_id, next).await? else {
                return Ok(None);
            };
            node = found.tree_node();
        }
        (node.links.depth == depth).then_some(node.id)
    };
    let Some(id) = found else {
        return Ok(None);
    };
    find_doc(collections, user_id, session_id, &id)
        .await?
        .map(tree_message)
        .transpose()
}

/// See `Store::children`: one query (`messages_by_parent`).
pub async fn children(
    collections: &Collections,
    user_id: &str,
    session_id: &str,
    parents: &[Option<String>],
) -> StoreResult<Vec<Message>> {
    if parents.is_empty() || !session_exists(collections, user_id, session_id).await? {
        return Ok(Vec::new());
    }
    let named: Vec<&String> = parents.iter().flatten().collect();
    let mut either = vec![doc! { "parent_id": { "$in": named } }];
    if parents.iter().any(Option::is_none) {
        either.push(doc! { "parent_id": null });
    }
    let found: Vec<MessageDoc> = collections
        .messages
        .find(doc! { "user_id": user_id, "session_id": session_id, "$or": either })
        .projection(without_terms())
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    found.into_iter().map(MessageDoc::into_message).collect()
}

/// See `Store::newest_descendant`: down `DEPTH_WINDOW` depths per query, the newest child
/// chosen in memory.
pub async fn newest_descendant(
    collections: &Collections,
    user_id: &str,
    session_id: &str,
    from: &str,
) -> StoreResult<Option<String>> {
    let Some(start) = node_of_live_session(collections, user_id, session_id, from).await? else {
        return Ok(None);
    };
    let (mut current, mut depth) = (start.id, start.depth.unwrap_or(0));
    // Each round reads the next DEPTH_WINDOW depths; the walk goes on to the next window only
    // when it reached the last depth of this one, so the rounds always move down.
    loop {
        let top = depth + DEPTH_WINDOW;
        let nodes = nodes_at_depths(collections, user_id, session_id, depth + 1, top + 1).await?;
        let mut newest: HashMap<&str, &NodeDoc> = HashMap::new();
        for node in nodes.values() {
            let Some(parent) = node.parent_id.as_deref() else {
                continue;
            };
            let newer = newest
                .get(parent)
                .is_none_or(|best| (node.created_at, &node.id) > (best.created_at, &best.id));
            if newer {
                newest.insert(parent, node);
            }
        }
        // Bounded by the window's size, so a loop in stored data cannot hang here.
        for _ in 0..=nodes.len() {
            let Some(child) = newest.get(current.as_str()) else {
                break;
            };
            current = child.id.clone();
            depth = child.depth();
        }
        if depth < top {
            return Ok(Some(current));
        }
    }
}
