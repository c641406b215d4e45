//! Relay connections over read model pages: forward paging with opaque cursors.

use std::future::Future;

use async_graphql::connection::{self, CursorType, Edge, EmptyFields};
use async_graphql::{OutputType, Result};
use slsplay_projections::store::ReadStoreError;

use super::types::{PageCursor, unavailable};

pub type Connection<T> = connection::Connection<PageCursor, T, EmptyFields, EmptyFields>;

/// Items know the sort key a page continues after.
pub trait Keyed {
    fn sort_key(&self) -> String;
}

// The same page sizes as the REST lists.
const DEFAULT_FIRST: i32 = slsplay_api::cursor::DEFAULT_LIMIT as i32;
const MAX_FIRST: i32 = slsplay_api::cursor::MAX_LIMIT as i32;

/// One page: `fetch(after, limit)` returns the items and, when more follow, the last key.
pub async fn page<T, F, Fut>(first: Option<i32>, after: Option<String>, fetch: F) -> Result<Connection<T>>
where
    T: OutputType + Keyed,
    F: FnOnce(Option<String>, usize) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), ReadStoreError>>,
{
    let first = first.unwrap_or(DEFAULT_FIRST);
    if !(1..=MAX_FIRST).contains(&first) {
        return Err(format!("first must be from 1 to {MAX_FIRST}").into());
    }
    let after = match after.filter(|a| !a.is_empty()) {
        Some(cursor) => Some(
            PageCursor::decode_cursor(&cursor)
                .map_err(|e| format!("after: {e}"))?
                .0,
        ),
        None => None,
    };
    let has_previous = after.is_some();
    let (items, last) = fetch(after, first as usize).await.map_err(unavailable)?;
    let mut connection = Connection::new(has_previous, last.is_some());
    connection.edges.extend(
        items
            .into_iter()
            .map(|item| Edge::new(PageCursor(item.sort_key()), item)),
    );
    Ok(connection)
}
