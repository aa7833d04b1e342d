//! The conversation view: the active branch a page at a time, switching branches, and the
//! context a reply is given. Each reads what it returns, never the whole session, through the
//! store's tree reads (`Store::ancestors`, `ancestor_at`, `children`, `newest_descendant`).
//!
//! The sibling rule lives here, once: a message's siblings are the messages of its session
//! with the same parent (for a root: the session's other roots), itself included, in sibling
//! order (`sibling_order`: oldest first by `created_at`, then by id). The page's sibling
//! places, the siblings list and the branch a switch picks all follow it.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::validate;
use super::{ServiceError, ServiceResult, Services};
use crate::api::{BranchInput, SwitchBranchInput};
use crate::model::{
    clamp_limit, BranchEntry, BranchPage, Message, Role, Session, SiblingPlace, User,
};
use crate::provider::ChatTurn;
use crate::store::{BranchWindow, MessageQuery, SessionPatch, TreeMessage};

/// Branch messages a page with a type filter looks through at most: a page holds the matches
/// among them, and a cursor to look further.
pub const FILTER_SCAN: usize = 500;
/// Messages read per round when the context walks up the branch.
const CONTEXT_BATCH: usize = 250;

/// The order of siblings: oldest first, by creation time, then id.
pub fn sibling_order(a: &Message, b: &Message) -> Ordering {
    (a.created_at, &a.id).cmp(&(b.created_at, &b.id))
}

/// Which stretch of the branch a page comes from (the page above a cursor is
/// `Services::page_before`'s).
enum Anchor {
    Newest,
    After(TreeMessage),
    Around(TreeMessage),
}

impl Anchor {
    fn keep(&self) -> Keep<'_> {
        match self {
            Anchor::Newest => Keep::Newest,
            Anchor::After(_) => Keep::Oldest,
            Anchor::Around(target) => Keep::Around(&target.message.id),
        }
    }
}

/// Which matches a page keeps when there are more than it holds: the newest (a page that
/// ends at the leaf or at a cursor below it), the oldest (a page below a cursor), or those
/// around a message, which is kept whatever its type.
enum Keep<'a> {
    Newest,
    Oldest,
    Around(&'a str),
}

/// A cursor (`before`, `after`, `around`) must look like a message id.
fn check_cursor(id: &str) -> ServiceResult<()> {
    if crate::ids::is_valid_id(id) {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            "invalid_cursor",
            "the cursor is not a message id",
        ))
    }
}

fn not_on_branch() -> ServiceError {
    ServiceError::invalid(
        "not_on_branch",
        "the message is not on the active branch of this session",
    )
}

/// Messages of `window` (root side first, ending at `bottom`) to show, as indexes, and
/// whether messages were left out above and below them: all of them without a filter, else
/// at most `limit` matches, those `keep` names.
fn choose(
    window: &[TreeMessage],
    keep: Keep<'_>,
    limit: usize,
    message_type: Option<&str>,
) -> (Vec<usize>, bool, bool) {
    let target = match keep {
        Keep::Around(target) => Some(target),
        _ => None,
    };
    let matches: Vec<usize> = window
        .iter()
        .enumerate()
        .filter(|(_, entry)| {
            message_type.is_none_or(|wanted| entry.message.message_type == wanted)
                || Some(entry.message.id.as_str()) == target
        })
        .map(|(index, _)| index)
        .collect();
    if matches.len() <= limit {
        return (matches, false, false);
    }
    let kept: Vec<usize> = match keep {
        Keep::Newest => matches[matches.len() - limit..].to_vec(),
        Keep::Oldest => matches[..limit].to_vec(),
        Keep::Around(target) => {
            let at = matches
                .iter()
                .position(|&index| window[index].message.id == target)
                .unwrap_or(0);
            let start = at.saturating_sub(limit / 2).min(matches.len() - limit);
            matches[start..start + limit].to_vec()
        }
    };
    let cut_above = kept.first() != matches.first();
    let cut_below = kept.last() != matches.last();
    (kept, cut_above, cut_below)
}

/// How many messages of the branch a page looks through: the page itself, or with a type
/// filter `FILTER_SCAN` of them (the matches among them make the page).
fn scan_span(limit: usize, message_type: Option<&str>) -> usize {
    if message_type.is_some() {
        FILTER_SCAN.max(limit)
    } else {
        limit
    }
}

/// The cursor of the page above a page of `window` (root side first) showing `kept`: the
/// first message kept when the filter left matches out above it, else the window's top
/// message unless it is the root.
fn earlier_cursor(window: &[TreeMessage], kept: &[usize], cut_above: bool) -> Option<String> {
    match (cut_above, kept.first(), window.first()) {
        (true, Some(&first), _) => Some(window[first].message.id.clone()),
        (false, _, Some(top)) if top.message.parent_id.is_some() => Some(top.message.id.clone()),
        _ => None,
    }
}

/// Each message with its place among `siblings` (the children of the messages' parents, in
/// any order), by the sibling rule.
fn with_siblings(messages: Vec<Message>, siblings: Vec<Message>) -> Vec<BranchEntry> {
    let mut by_parent: HashMap<Option<String>, Vec<Message>> = HashMap::new();
    for sibling in siblings {
        by_parent
            .entry(sibling.parent_id.clone())
            .or_default()
            .push(sibling);
    }
    for group in by_parent.values_mut() {
        group.sort_by(sibling_order);
    }
    messages
        .into_iter()
        .map(|message| {
            let group = by_parent
                .get(&message.parent_id)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let place = match group.iter().position(|other| other.id == message.id) {
                Some(index) => SiblingPlace {
                    count: group.len(),
                    index,
                    previous_id: index.checked_sub(1).map(|before| group[before].id.clone()),
                    next_id: group.get(index + 1).map(|after| after.id.clone()),
                },
                None => SiblingPlace {
                    count: 1,
                    index: 0,
                    previous_id: None,
                    next_id: None,
                },
            };
            BranchEntry {
                message,
                siblings: place,
            }
        })
        .collect()
}

/// Keeps the context within a token budget, fed the branch newest first (see `context`).
pub struct ContextBudget {
    budget: i64,
    used: i64,
    system: Option<Message>,
    kept: Vec<Message>,
}

impl ContextBudget {
    /// `root` is the branch's first message: kept whatever the budget when it is a system
    /// message.
    pub fn new(root: Option<&Message>, budget: i64) -> ContextBudget {
        let system = root.filter(|root| root.role == Role::System).cloned();
        let used = system
            .as_ref()
            .map(|message| super::reply::estimate_tokens(&message.content))
            .unwrap_or(0);
        ContextBudget {
            budget,
            used,
            system,
            kept: Vec::new(),
        }
    }

    /// Offers the next older message; false once the context is full (or reached the system
    /// message), and nothing older is wanted.
    pub fn offer(&mut self, message: &Message) -> bool {
        if self
            .system
            .as_ref()
            .is_some_and(|system| system.id == message.id)
        {
            return false;
        }
        let cost = super::reply::estimate_tokens(&message.content);
        if !self.kept.is_empty() && self.used + cost > self.budget {
            return false;
        }
        self.used += cost;
        self.kept.push(message.clone());
        true
    }

    /// The turns, oldest first.
    pub fn turns(self) -> Vec<ChatTurn> {
        let mut kept = self.kept;
        kept.extend(self.system);
        kept.reverse();
        kept.into_iter()
            .map(|message| ChatTurn {
                role: message.role,
                content: message.content,
            })
            .collect()
    }
}

impl Services {
    /// The user's session (not deleted), without reading its messages.
    pub(crate) async fn live_session(&self, user: &User, id: &str) -> ServiceResult<Session> {
        validate::existing_id(id)?;
        self.store()
            .session(&user.id, id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// The message the active branch ends at: the session's active leaf, or (when it names no
    /// message of the session, as after an import that did not say) its newest message.
    /// `None` for a session without messages.
    async fn branch_leaf(
        &self,
        user: &User,
        session: &Session,
    ) -> ServiceResult<Option<TreeMessage>> {
        let store = self.store();
        if let Some(leaf) = &session.active_leaf_id {
            if let Some(found) = store.ancestors(&user.id, &session.id, leaf, 1).await?.pop() {
                return Ok(Some(found));
            }
        }
        let newest = store
            .list_messages(
                &user.id,
                &session.id,
                MessageQuery {
                    limit: 1,
                    ..Default::default()
                },
            )
            .await?;
        let Some(newest) = newest.items.first() else {
            return Ok(None);
        };
        Ok(store
            .ancestors(&user.id, &session.id, &newest.id, 1)
            .await?
            .pop())
    }

    /// A message of the session, with its depth; `invalid_cursor` when it is not one.
    async fn cursor_message(
        &self,
        user: &User,
        session_id: &str,
        id: &str,
    ) -> ServiceResult<TreeMessage> {
        check_cursor(id)?;
        self.store()
            .ancestors(&user.id, session_id, id, 1)
            .await?
            .pop()
            .ok_or_else(|| {
                ServiceError::invalid(
                    "invalid_cursor",
                    "the cursor is not a message of this session",
                )
            })
    }

    /// A page of the session's active branch (see `BranchInput`): the newest page, the one
    /// above `before`, below `after`, or around `around` (which must be on the active branch,
    /// else `not_on_branch`). Each message comes with its place among its siblings.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, session_id = %session_id))]
    pub async fn branch_page(
        &self,
        user: &User,
        session_id: &str,
        input: BranchInput,
    ) -> ServiceResult<BranchPage> {
        let limit = clamp_limit(input.limit);
        let message_type = input
            .message_type
            .as_deref()
            .filter(|slug| !slug.is_empty())
            .map(validate::message_type)
            .transpose()?;
        let cursors = [&input.before, &input.after, &input.around];
        let named: Vec<&String> = cursors
            .iter()
            .filter_map(|cursor| cursor.as_ref().filter(|id| !id.is_empty()))
            .collect();
        if named.len() > 1 {
            return Err(ServiceError::invalid(
                "invalid_cursor",
                "give at most one of before, after and around",
            ));
        }
        let non_empty = |cursor: &Option<String>| cursor.clone().filter(|id| !id.is_empty());
        if let Some(id) = non_empty(&input.before) {
            let session = self.live_session(user, session_id).await?;
            return self
                .page_before(user, session, &id, limit, message_type.as_deref())
                .await;
        }
        let (session, anchor) = match (non_empty(&input.after), non_empty(&input.around)) {
            (None, None) => (self.live_session(user, session_id).await?, Anchor::Newest),
            (after, around) => {
                // The cursor is read with the session (one round trip where the store can).
                let id = after.clone().or(around).unwrap_or_default();
                let (session, cursor) = futures::join!(
                    self.live_session(user, session_id),
                    self.cursor_message(user, session_id, &id)
                );
                // A session that is not the user's is not found, whatever the cursor.
                let (session, cursor) = (session?, cursor?);
                match after {
                    Some(_) => (session, Anchor::After(cursor)),
                    None => (session, Anchor::Around(cursor)),
                }
            }
        };
        self.page_at(user, session, anchor, limit, message_type.as_deref())
            .await
    }

    /// The page above the message `cursor`: one read of the branch from the cursor itself
    /// (the cursor, then `span` of its ancestors), which also proves the cursor is a message
    /// of the session. Neither the active leaf nor the cursor is read on its own.
    async fn page_before(
        &self,
        user: &User,
        session: Session,
        cursor: &str,
        limit: usize,
        message_type: Option<&str>,
    ) -> ServiceResult<BranchPage> {
        check_cursor(cursor)?;
        let span = scan_span(limit, message_type);
        let BranchWindow {
            messages: mut window,
            siblings,
        } = self
            .store()
            .branch_window(&user.id, &session.id, cursor, span + 1)
            .await?;
        if window.is_empty() {
            return Err(ServiceError::invalid(
                "invalid_cursor",
                "the cursor is not a message of this session",
            ));
        }
        // Newest first: the cursor itself, which the page leaves out.
        window.remove(0);
        window.reverse();
        let (kept, cut_above, _) = choose(&window, Keep::Newest, limit, message_type);
        let earlier = earlier_cursor(&window, &kept, cut_above);
        // `choose` keeps the matches nearest the cursor, so what follows the page is the
        // window's last message (the cursor's parent) on: its id is the `later` cursor, unless
        // it is the active leaf (a cursor below the leaf is on no page of the branch).
        let later = window
            .last()
            .filter(|end| session.active_leaf_id.as_deref() != Some(end.message.id.as_str()))
            .map(|end| end.message.id.clone());
        let messages: Vec<Message> = kept
            .into_iter()
            .map(|index| window[index].message.clone())
            .collect();
        Ok(BranchPage {
            session,
            messages: with_siblings(messages, siblings),
            earlier,
            later,
        })
    }

    async fn page_at(
        &self,
        user: &User,
        session: Session,
        anchor: Anchor,
        limit: usize,
        message_type: Option<&str>,
    ) -> ServiceResult<BranchPage> {
        let store = self.store();
        let span = scan_span(limit, message_type);
        // The newest page hangs from the active leaf: read from it at once, it is also the
        // leaf's own read (one store call where the leaf is known).
        let newest = match (&anchor, &session.active_leaf_id) {
            (Anchor::Newest, Some(leaf)) => {
                let window = store
                    .branch_window(&user.id, &session.id, leaf, span)
                    .await?;
                (!window.messages.is_empty()).then_some(window)
            }
            _ => None,
        };
        let leaf = match &newest {
            Some(window) => window.messages.first().cloned(),
            None => self.branch_leaf(user, &session).await?,
        };
        let Some(leaf) = leaf else {
            if matches!(anchor, Anchor::Around(_) | Anchor::After(_)) {
                return Err(not_on_branch());
            }
            return Ok(BranchPage {
                session,
                messages: Vec::new(),
                earlier: None,
                later: None,
            });
        };
        // The window of the branch to look through: its bottom message and how many above.
        let (bottom, count) = match &anchor {
            Anchor::Newest => (Some(leaf.clone()), span),
            Anchor::After(cursor) => {
                if cursor.depth >= leaf.depth {
                    if cursor.message.id != leaf.message.id {
                        return Err(not_on_branch());
                    }
                    (None, 0)
                } else {
                    let depth = leaf.depth.min(cursor.depth + span as i64);
                    let bottom = store
                        .ancestor_at(&user.id, &session.id, &leaf.message.id, depth)
                        .await?;
                    (bottom, (depth - cursor.depth) as usize)
                }
            }
            Anchor::Around(target) => {
                if target.depth > leaf.depth {
                    return Err(not_on_branch());
                }
                let depth = leaf
                    .depth
                    .min((target.depth + (span / 2) as i64).max(span as i64 - 1));
                let bottom = store
                    .ancestor_at(&user.id, &session.id, &leaf.message.id, depth)
                    .await?;
                (bottom, span)
            }
        };
        let BranchWindow {
            messages: mut window,
            siblings,
        } = match (newest, &bottom) {
            (Some(window), _) => window,
            (None, Some(bottom)) => {
                store
                    .branch_window(&user.id, &session.id, &bottom.message.id, count)
                    .await?
            }
            (None, None) => BranchWindow::default(),
        };
        window.reverse();
        // The window must hang from the cursor (`after`) or hold the target (`around`): else
        // the message is on another branch.
        let off_branch = match &anchor {
            Anchor::After(cursor) => window.first().is_some_and(|first| {
                first.message.parent_id.as_deref() != Some(cursor.message.id.as_str())
            }),
            Anchor::Around(target) => !window
                .iter()
                .any(|entry| entry.message.id == target.message.id),
            _ => false,
        };
        if off_branch {
            return Err(not_on_branch());
        }
        let (kept, cut_above, cut_below) = choose(&window, anchor.keep(), limit, message_type);
        let earlier = earlier_cursor(&window, &kept, cut_above);
        let later = match (cut_below, kept.last(), window.last()) {
            (true, Some(&last), _) => Some(window[last].message.id.clone()),
            (false, _, Some(end)) if end.message.id != leaf.message.id => {
                Some(end.message.id.clone())
            }
            _ => None,
        };
        let messages: Vec<Message> = kept
            .into_iter()
            .map(|index| window[index].message.clone())
            .collect();
        let messages = with_siblings(messages, siblings);
        Ok(BranchPage {
            session,
            messages,
            earlier,
            later,
        })
    }

    /// The messages that share `id`'s parent (itself included), in sibling order.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, message_id = %id))]
    pub async fn siblings(&self, user: &User, id: &str) -> ServiceResult<Vec<Message>> {
        let message = self.get_message(user, id).await?;
        let mut siblings = self
            .store()
            .children(
                &user.id,
                &message.session_id,
                std::slice::from_ref(&message.parent_id),
            )
            .await?;
        siblings.sort_by(sibling_order);
        Ok(siblings)
    }

    /// Makes the branch through `message_id` the active one: from the message, the newest
    /// child again and again (the last in sibling order) to the new active leaf. Answers the
    /// page around the message.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, session_id = %session_id, message_id = %input.message_id))]
    pub async fn switch_branch(
        &self,
        user: &User,
        session_id: &str,
        input: SwitchBranchInput,
    ) -> ServiceResult<BranchPage> {
        validate::existing_id(session_id)?;
        validate::existing_id(&input.message_id)?;
        let target = self
            .store()
            .ancestors(&user.id, session_id, &input.message_id, 1)
            .await?
            .pop()
            .ok_or(ServiceError::NotFound)?;
        let session = self.activate(user, session_id, &target).await?;
        self.page_at(
            user,
            session,
            Anchor::Around(target),
            clamp_limit(input.limit),
            None,
        )
        .await
    }

    /// Moves the active leaf to the end of the branch through `target`.
    async fn activate(
        &self,
        user: &User,
        session_id: &str,
        target: &TreeMessage,
    ) -> ServiceResult<Session> {
        let leaf = self
            .store()
            .newest_descendant(&user.id, session_id, &target.message.id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        self.store()
            .update_session(
                &user.id,
                session_id,
                SessionPatch {
                    active_leaf_id: Some(leaf),
                    ..Default::default()
                },
                chrono::Utc::now(),
            )
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// Opens a conversation at one of its messages (a search hit): the page around it, after
    /// switching to its branch when it is not on the active one.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, message_id = %message_id))]
    pub async fn open_at(
        &self,
        user: &User,
        message_id: &str,
        limit: Option<i64>,
    ) -> ServiceResult<BranchPage> {
        let message = self.get_message(user, message_id).await?;
        let session = self.live_session(user, &message.session_id).await?;
        let target = self
            .store()
            .ancestors(&user.id, &session.id, &message.id, 1)
            .await?
            .pop()
            .ok_or(ServiceError::NotFound)?;
        let on_branch = match self.branch_leaf(user, &session).await? {
            Some(leaf) => self
                .store()
                .ancestor_at(&user.id, &session.id, &leaf.message.id, target.depth)
                .await?
                .is_some_and(|found| found.message.id == target.message.id),
            None => false,
        };
        let session = if on_branch {
            session
        } else {
            self.activate(user, &session.id, &target).await?
        };
        self.page_at(
            user,
            session,
            Anchor::Around(target),
            clamp_limit(limit),
            None,
        )
        .await
    }

    /// The active branch of a session, root first, whole. For tests and tools: the view and
    /// the context read pages (`branch_page`, `context`).
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, session_id = %session_id))]
    pub async fn active_branch(
        &self,
        user: &User,
        session_id: &str,
    ) -> ServiceResult<Vec<Message>> {
        let session = self.live_session(user, session_id).await?;
        let Some(leaf) = self.branch_leaf(user, &session).await? else {
            return Ok(Vec::new());
        };
        let length = usize::try_from(leaf.depth).unwrap_or(0) + 1;
        let mut branch = self
            .store()
            .ancestors(&user.id, session_id, &leaf.message.id, length)
            .await?;
        branch.reverse();
        Ok(branch.into_iter().map(|entry| entry.message).collect())
    }

    /// The turns sent to the model for a reply to `question`: its branch from the root to
    /// it, cut to the token budget from the oldest end (a leading system message is always
    /// kept). Reads up the parent chain only as far as the budget reaches, and the root.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, session_id = %question.session_id, message_id = %question.id))]
    pub async fn context(&self, user: &User, question: &Message) -> ServiceResult<Vec<ChatTurn>> {
        let store = self.store();
        let session_id = question.session_id.as_str();
        // Only a system message at the root matters: when no root of the session is one (one
        // read of the roots), the branch's root need not be found.
        let mut roots = store.children(&user.id, session_id, &[None]).await?;
        let root = if roots.iter().all(|root| root.role != Role::System) {
            None
        } else if roots.len() == 1 {
            roots.pop()
        } else {
            store
                .ancestor_at(&user.id, session_id, &question.id, 0)
                .await?
                .map(|root| root.message)
        };
        let mut budget = ContextBudget::new(root.as_ref(), self.config().context_tokens);
        let mut from = Some(question.id.clone());
        'walk: while let Some(start) = from.take() {
            let batch = store
                .ancestors(&user.id, session_id, &start, CONTEXT_BATCH)
                .await?;
            for entry in &batch {
                if !budget.offer(&entry.message) {
                    break 'walk;
                }
            }
            if batch.len() == CONTEXT_BATCH {
                from = batch
                    .last()
                    .and_then(|entry| entry.message.parent_id.clone());
            }
        }
        Ok(budget.turns())
    }
}
