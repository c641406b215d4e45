//! Opaque page cursors: clients pass back what they got and never build one themselves, so
//! the paging key can change without breaking them.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use utoipa::IntoParams;

use super::problem::Problem;

pub const DEFAULT_LIMIT: usize = 25;
pub const MAX_LIMIT: usize = 100;
const PREFIX: &str = "v1:";

/// `?limit=&cursor=` of every list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The page size and the sort key to continue after, or a 400 naming the bad parameter.
    pub fn resolve(&self) -> Result<(usize, Option<String>), Problem> {
        let limit = match self.limit {
            None => DEFAULT_LIMIT,
            Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => n as usize,
            Some(_) => {
                return Err(Problem::field(
                    StatusCode::BAD_REQUEST,
                    "invalid-parameter",
                    "limit",
                    format!("must be from 1 to {MAX_LIMIT}"),
                ));
            }
        };
        // An empty cursor is no cursor: the first page.
        let after = self
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(decode)
            .transpose()?;
        Ok((limit, after))
    }
}

pub fn encode(after: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{PREFIX}{after}"))
}

pub fn decode(cursor: &str) -> Result<String, Problem> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|s| s.strip_prefix(PREFIX).map(str::to_owned))
        // Sort keys are ids and days: short, never empty (DynamoDB refuses both extremes).
        .filter(|after| !after.is_empty() && after.len() <= 256)
        .ok_or_else(|| {
            Problem::field(
                StatusCode::BAD_REQUEST,
                "invalid-parameter",
                "cursor",
                "is not a cursor this API handed out",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        assert_eq!(decode(&encode("inv_abc")).unwrap(), "inv_abc");
        assert!(decode("not base64 !").is_err());
        assert!(decode(&URL_SAFE_NO_PAD.encode("inv_abc")).is_err());
    }

    #[test]
    fn limits_outside_the_range_are_refused() {
        for bad in [0, -1, 101] {
            let q = PageQuery {
                limit: Some(bad),
                cursor: None,
            };
            assert_eq!(q.resolve().unwrap_err().errors[0].field, "limit");
        }
        assert_eq!(PageQuery::default().resolve().unwrap(), (DEFAULT_LIMIT, None));
    }
}
