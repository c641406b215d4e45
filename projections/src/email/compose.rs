//! The emails themselves: plain text and HTML in one message, with an .ics attachment where a
//! calendar entry helps. Pure functions of the event's state, so tests can read every word.

use std::str::FromStr;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use slsplay_aggregates::validation::ical;
use slsplay_aggregates::virtual_event::VirtualEvent;

/// One email before it is encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub calendar: Option<Calendar>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// `REQUEST` (add or update) or `CANCEL`.
    pub method: &'static str,
    pub ics: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("bad address `{0}`: {1}")]
    Address(String, lettre::address::AddressError),
    #[error("cannot build the message: {0}")]
    Build(#[from] lettre::error::Error),
}

/// Encodes a draft as an RFC 5322 message (what an .eml file holds and SMTP or SES sends).
pub fn to_eml(
    to: &str,
    draft: &Draft,
    from: &str,
    sent_at: DateTime<Utc>,
    message_id: &str,
) -> Result<String, ComposeError> {
    let from: Mailbox = from
        .parse()
        .map_err(|e| ComposeError::Address(from.to_owned(), e))?;
    let to: Mailbox = to.parse().map_err(|e| ComposeError::Address(to.to_owned(), e))?;
    let body = MultiPart::alternative_plain_html(draft.text.clone(), draft.html.clone());
    let body = match &draft.calendar {
        None => body,
        Some(calendar) => {
            let kind = format!("text/calendar; charset=utf-8; method={}", calendar.method);
            let kind = ContentType::parse(&kind).expect("a valid content type");
            MultiPart::mixed()
                .multipart(body)
                .singlepart(Attachment::new("event.ics".into()).body(calendar.ics.clone(), kind))
        }
    };
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(draft.subject.clone())
        .date(SystemTime::from(sent_at))
        .message_id(Some(format!("<{message_id}@slsplay>")))
        .multipart(body)?;
    Ok(String::from_utf8_lossy(&message.formatted()).into_owned())
}

/// Escapes text for HTML bodies: titles and messages are written by users.
pub fn html_escape(text: &str) -> String {
    text.chars()
        .fold(String::with_capacity(text.len()), |mut out, c| {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                c => out.push(c),
            }
            out
        })
}

/// "Friday 15 May 2030, 11:00 (Europe/Paris)": the event's time in its own zone.
pub fn local_time(at: DateTime<Utc>, time_zone: &str) -> String {
    let tz = chrono_tz::Tz::from_str(time_zone).unwrap_or(chrono_tz::UTC);
    format!(
        "{} ({time_zone})",
        at.with_timezone(&tz).format("%A %-d %B %Y, %H:%M")
    )
}

/// Whom one calendar file is for: an invitation (RFC 5546's REQUEST) names its organizer and
/// its attendee.
#[derive(Debug, Clone, Copy)]
pub struct Guest<'a> {
    pub email: &'a str,
    /// Confirmed (attending): the file says ACCEPTED and carries the join link.
    pub attending: bool,
    /// The event's page (its preview, without the personal link's token).
    pub page: &'a str,
    /// The address the platform writes from, which stands as the organizer.
    pub organizer: &'a str,
}

/// One guest's iCalendar entry of the event.
pub fn ics(
    event: &VirtualEvent,
    method: &'static str,
    sequence: usize,
    stamp: DateTime<Utc>,
    guest: Guest<'_>,
) -> Calendar {
    // Instants in UTC: right across daylight-saving changes, which a VTIMEZONE of a single
    // offset got wrong; calendar apps show them in the reader's zone.
    let utc = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    let status = if method == "CANCEL" {
        "CANCELLED"
    } else {
        "CONFIRMED"
    };
    let partstat = if guest.attending {
        "ACCEPTED"
    } else {
        "NEEDS-ACTION"
    };
    let organizer = event
        .organizer_contact
        .as_ref()
        .and_then(|c| c.name.as_deref())
        .map_or_else(|| "slsplay".to_owned(), ical::param);
    let join = (guest.attending && method != "CANCEL")
        .then(|| format!("LOCATION:{}", ical::text(&event.details.meeting_url)));
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//slsplay//virtual events//EN".to_owned(),
        format!("METHOD:{method}"),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}@slsplay", event.id),
        format!("SEQUENCE:{sequence}"),
        format!("DTSTAMP:{}", utc(stamp)),
        format!("DTSTART:{}", utc(event.details.starts_at)),
        format!("DTEND:{}", utc(event.details.ends_at())),
        format!("SUMMARY:{}", ical::text(&event.details.title)),
        format!("DESCRIPTION:{}", ical::text(&event.details.description)),
        format!("STATUS:{status}"),
        format!("URL:{}", guest.page),
        // The platform sends the invitation, so its address organizes; the name is the
        // organizer's own, where their sign-in gave one.
        format!("ORGANIZER;CN={organizer}:mailto:{}", guest.organizer),
        format!("ATTENDEE;PARTSTAT={partstat};RSVP=FALSE:mailto:{}", guest.email),
    ];
    let ics = lines
        .iter()
        .chain(&join)
        .chain(&["END:VEVENT".to_owned(), "END:VCALENDAR".to_owned()])
        .map(|l| ical::fold(l))
        .collect::<Vec<_>>()
        .join("\r\n");
    Calendar {
        method,
        ics: ics + "\r\n",
    }
}

/// Escapes iCalendar text values (RFC 5545, 3.3.11).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_special_characters_are_escaped() {
        assert_eq!(
            html_escape("<b>\"Tom & Jerry's\"</b>"),
            "&lt;b&gt;&quot;Tom &amp; Jerry&#39;s&quot;&lt;/b&gt;"
        );
    }
}
