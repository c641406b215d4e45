//! "Add to calendar": an iCalendar file (RFC 5545) made in the browser, in UTC, so every
//! calendar app places it right whatever its own zone.

use slsplay_rules::ical::{self, text};

/// What the calendar entry says.
pub struct Entry<'a> {
    /// Stable across downloads, so a second download updates the entry instead of adding one.
    pub uid: &'a str,
    pub start_ms: f64,
    pub minutes: i64,
    pub title: &'a str,
    pub description: &'a str,
    /// The invitation's page, without its token.
    pub url: &'a str,
    /// The meeting link, once the guest is confirmed.
    pub location: Option<&'a str>,
    pub now_ms: f64,
}

pub fn ics(entry: &Entry) -> String {
    let end_ms = entry.start_ms + entry.minutes as f64 * 60_000.0;
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//slsplay//invitation//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}", text(entry.uid)),
        format!("DTSTAMP:{}", utc(entry.now_ms)),
        format!("DTSTART:{}", utc(entry.start_ms)),
        format!("DTEND:{}", utc(end_ms)),
        format!("SUMMARY:{}", text(entry.title)),
        format!("DESCRIPTION:{}", text(entry.description)),
        format!("URL:{}", entry.url),
    ];
    if let Some(location) = entry.location {
        lines.push(format!("LOCATION:{}", text(location)));
    }
    lines.push("END:VEVENT".to_owned());
    lines.push("END:VCALENDAR".to_owned());
    lines.iter().map(|line| ical::fold(line) + "\r\n").collect()
}

/// `20300515T090000Z`.
fn utc(epoch_ms: f64) -> String {
    let seconds = (epoch_ms / 1000.0).floor() as i64;
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2030-05-15T09:00:00Z
    const START: f64 = 1_905_066_000_000.0;

    fn entry(location: Option<&'static str>) -> String {
        ics(&Entry {
            uid: "ev-1@slsplay",
            start_ms: START,
            minutes: 90,
            title: "Wine, cheese; and more",
            description: "Line one\nline two",
            url: "https://vip.example/e/abc",
            location,
            now_ms: 0.0,
        })
    }

    #[test]
    fn the_entry_is_in_utc_with_its_end_and_escaped_text() {
        let ics = entry(None);
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"), "{ics}");
        assert!(ics.contains("\r\nDTSTART:20300515T090000Z\r\n"), "{ics}");
        assert!(ics.contains("\r\nDTEND:20300515T103000Z\r\n"), "{ics}");
        assert!(ics.contains("\r\nDTSTAMP:19700101T000000Z\r\n"), "{ics}");
        assert!(
            ics.contains("\r\nSUMMARY:Wine\\, cheese\\; and more\r\n"),
            "{ics}"
        );
        assert!(ics.contains("\r\nDESCRIPTION:Line one\\nline two\r\n"), "{ics}");
        assert!(!ics.contains("LOCATION"), "no meeting link before confirmation");
        assert!(ics.ends_with("END:VEVENT\r\nEND:VCALENDAR\r\n"));
        assert!(entry(Some("https://meet.example/x")).contains("\r\nLOCATION:https://meet.example/x\r\n"));
    }

    #[test]
    fn dates_are_right_across_leap_days_and_before_1970() {
        assert_eq!(utc(951_782_400_000.0), "20000229T000000Z");
        assert_eq!(utc(-1000.0), "19691231T235959Z");
    }
}
