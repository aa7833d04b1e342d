//! The shape rules of a user's folders, shared by both backends: the order the sidebar lists
//! them in, how deep a folder is, and whether a move would make a cycle or nest too deep.
//! Each backend reads the user's folders (at most `MAX_FOLDERS`, one indexed read) and asks
//! these.

use std::collections::HashMap;

use crate::folders::MAX_FOLDER_DEPTH;
use crate::model::Folder;
use crate::store::{Conflict, StoreError, StoreResult};

/// The folders in the sidebar's order: each parent before its children, siblings by name then
/// id. A folder whose parent is missing (it cannot be, but a list must not lose it) is listed
/// at the top level.
pub fn tree_order(folders: Vec<Folder>) -> Vec<Folder> {
    let ids: std::collections::HashSet<String> = folders.iter().map(|f| f.id.clone()).collect();
    let mut children: HashMap<Option<String>, Vec<Folder>> = HashMap::new();
    for folder in folders {
        let parent = folder
            .parent_id
            .clone()
            .filter(|parent| ids.contains(parent));
        children.entry(parent).or_default().push(folder);
    }
    for siblings in children.values_mut() {
        siblings.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    }
    let mut ordered = Vec::with_capacity(ids.len());
    // Depth first, without recursion: the stack holds the siblings still to list, reversed.
    let mut stack: Vec<Folder> = children.remove(&None).unwrap_or_default();
    stack.reverse();
    while let Some(folder) = stack.pop() {
        let mut below = children
            .remove(&Some(folder.id.clone()))
            .unwrap_or_default();
        below.reverse();
        ordered.push(folder);
        stack.extend(below);
    }
    ordered
}

/// A user's folders by id, to answer questions about their shape.
pub struct Tree<'a> {
    by_id: HashMap<&'a str, &'a Folder>,
}

impl<'a> Tree<'a> {
    pub fn new(folders: &'a [Folder]) -> Tree<'a> {
        Tree {
            by_id: folders.iter().map(|f| (f.id.as_str(), f)).collect(),
        }
    }

    pub fn get(&self, id: &str) -> Option<&'a Folder> {
        self.by_id.get(id).copied()
    }

    /// 1 for a top-level folder, 2 for its child, and so on.
    pub fn depth(&self, id: &str) -> usize {
        let mut depth = 0;
        let mut at = self.get(id);
        // Bounded by the number of folders, should a stored parent loop ever exist.
        while let Some(folder) = at {
            depth += 1;
            if depth > self.by_id.len() {
                break;
            }
            at = folder
                .parent_id
                .as_deref()
                .and_then(|parent| self.get(parent));
        }
        depth
    }

    /// The folder and every folder below it, the folder first.
    pub fn subtree(&self, id: &str) -> Vec<String> {
        let mut found = vec![id.to_owned()];
        let mut next = 0;
        while next < found.len() {
            let parent = found[next].clone();
            let mut children: Vec<String> = self
                .by_id
                .values()
                .filter(|f| f.parent_id.as_deref() == Some(parent.as_str()))
                .map(|f| f.id.clone())
                .filter(|id| !found.contains(id))
                .collect();
            children.sort();
            found.extend(children);
            next += 1;
        }
        found
    }

    /// How many levels the folder and its subfolders span (1 for a folder with none).
    pub fn height(&self, id: &str) -> usize {
        let base = self.depth(id);
        self.subtree(id)
            .iter()
            .map(|below| self.depth(below) + 1 - base)
            .max()
            .unwrap_or(1)
    }

    /// Refuses moving `id` under `parent` (`None`: the top level) when that puts it in its
    /// own subtree (`FolderCycle`) or nests anything deeper than `MAX_FOLDER_DEPTH`
    /// (`FolderTooDeep`). `NotFound` when `parent` is not one of these folders.
    pub fn check_move(&self, id: &str, parent: Option<&str>) -> StoreResult<()> {
        let Some(parent) = parent else {
            return if self.height(id) > MAX_FOLDER_DEPTH {
                Err(StoreError::Conflict(Conflict::FolderTooDeep))
            } else {
                Ok(())
            };
        };
        if self.get(parent).is_none() {
            return Err(StoreError::NotFound);
        }
        if self.subtree(id).iter().any(|below| below == parent) {
            return Err(StoreError::Conflict(Conflict::FolderCycle));
        }
        if self.depth(parent) + self.height(id) > MAX_FOLDER_DEPTH {
            return Err(StoreError::Conflict(Conflict::FolderTooDeep));
        }
        Ok(())
    }

    /// Refuses a new folder under `parent` past `MAX_FOLDER_DEPTH` or past `MAX_FOLDERS`.
    pub fn check_new(&self, parent: Option<&str>) -> StoreResult<()> {
        if self.by_id.len() >= crate::folders::MAX_FOLDERS {
            return Err(StoreError::Conflict(Conflict::TooManyFolders));
        }
        if let Some(parent) = parent {
            if self.get(parent).is_none() {
                return Err(StoreError::NotFound);
            }
            if self.depth(parent) + 1 > MAX_FOLDER_DEPTH {
                return Err(StoreError::Conflict(Conflict::FolderTooDeep));
            }
        }
        Ok(())
    }
}
