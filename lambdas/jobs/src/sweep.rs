//! Finding what is due: ranges of the by-time read models, read in sort key order from the
//! window's start and left at the first row past its end, so a run reads the rows it acts on
//! (and one page more at most), however many events the tables hold.

use chrono::{DateTime, Duration, Utc};
use slsplay_projections::read_models::projector::timestamp;
use slsplay_projections::read_models::{EventByStart, SeatHold};
use slsplay_projections::schema::ReadModel;
use slsplay_projections::store::{ReadQueries, ReadStoreError};

/// Rows per read: a window rarely holds more.
const PAGE: usize = 100;

/// The UTC days from `from`'s to `to`'s, as the tables' partitions name them.
fn days(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
    let mut days = Vec::new();
    let mut day = from.date_naive();
    while day <= to.date_naive() {
        days.push(day.format("%Y-%m-%d").to_string());
        day += Duration::days(1);
    }
    days
}

/// The rows of each day's partition in sort key order, read from after `after`, up to the
/// first whose `time` is past `to_key` (one page past the window at most).
async fn read_until<M, Q>(
    queries: &Q,
    days: Vec<String>,
    after: Option<String>,
    to_key: &str,
    time: impl Fn(&M) -> &str,
) -> Result<Vec<M>, ReadStoreError>
where
    M: ReadModel + Send,
    Q: ReadQueries,
{
    let mut found = Vec::new();
    for day in days {
        let mut after = after.clone();
        'pages: loop {
            let page = queries.page::<M>(&day, after.as_deref(), PAGE).await?;
            for row in page.items {
                if time(&row) > to_key {
                    break 'pages;
                }
                found.push(row);
            }
            match page.last_sort_key {
                Some(last) => after = Some(last),
                None => break,
            }
        }
    }
    Ok(found)
}

/// Events that start after `from` and at or before `to`, by start time.
pub async fn starting_between<Q: ReadQueries>(
    queries: &Q,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<EventByStart>, ReadStoreError> {
    let (from_key, to_key) = (timestamp(from), timestamp(to));
    // Sort keys are `starts_at#event_id`: anything after `from_key` starts at or after it.
    let rows = read_until(
        queries,
        days(from, to),
        Some(from_key.clone()),
        &to_key,
        |e: &EventByStart| &e.starts_at,
    )
    .await?;
    Ok(rows.into_iter().filter(|e| e.starts_at > from_key).collect())
}

/// Seat holds that ran out at or before `now`, over the last `lookback` (a platform that was
/// down catches up on what lapsed meanwhile).
pub async fn holds_lapsed_by<Q: ReadQueries>(
    queries: &Q,
    now: DateTime<Utc>,
    lookback: Duration,
) -> Result<Vec<SeatHold>, ReadStoreError> {
    let now_key = timestamp(now);
    read_until(
        queries,
        days(now - lookback, now),
        None,
        &now_key,
        |h: &SeatHold| &h.until,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_window_over_midnight_reads_both_days() {
        assert_eq!(
            days(at("2030-05-01T23:30:00Z"), at("2030-05-02T00:30:00Z")),
            ["2030-05-01", "2030-05-02"]
        );
        assert_eq!(
            days(at("2030-05-01T10:00:00Z"), at("2030-05-01T11:00:00Z")),
            ["2030-05-01"]
        );
    }
}
