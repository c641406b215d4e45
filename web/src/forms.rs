//! The organizer's forms, checked with the server's own field rules (`slsplay-rules`, compiled
//! to wasm), so a form says what the API would say before anything is sent.

use std::collections::HashSet;

use slsplay_rules as rules;
use slsplay_rules::currency_decimals as decimals;

/// Messages by form field (`title`, `ticketPrice.currency`, ...), in the order found: the
/// rules' own list, under the form's (GraphQL's) field names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldErrors(pub rules::ValidationErrors);

impl FieldErrors {
    pub fn get(&self, field: &str) -> Option<String> {
        self.0
            .0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.clone())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first failing field's name.
    pub fn first_field(&self) -> Option<String> {
        self.0.0.first().map(|e| e.field.clone())
    }

    /// The API's user errors, by the form's names (`input.startsAt` is `startsAt`); errors
    /// without a field go under `""`.
    pub fn from_api<'a>(errors: impl IntoIterator<Item = (Option<&'a str>, &'a str)>) -> Self {
        let mut found = rules::ValidationErrors::default();
        for (field, message) in errors {
            let field = field.unwrap_or_default();
            found.add(field.strip_prefix("input.").unwrap_or(field), message);
        }
        Self(found)
    }
}

/// What the event form holds, as typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventForm {
    pub title: String,
    pub description: String,
    /// The start as RFC 3339, once the picked date and time were read in the zone.
    pub starts_at: Option<String>,
    pub time_zone: String,
    pub duration_minutes: String,
    pub capacity: String,
    pub price: String,
    pub currency: String,
    pub meeting_url: String,
}

/// The checked fields, ready for the API.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFields {
    pub title: String,
    pub description: String,
    pub starts_at: String,
    pub time_zone: String,
    pub duration_minutes: i64,
    pub capacity: Option<i64>,
    pub price: Option<rules::Money>,
    pub meeting_url: String,
}

impl EventForm {
    pub fn check(&self, now_ms: f64, starts_ms: f64) -> Result<EventFields, FieldErrors> {
        let mut errors = rules::ValidationErrors::default();
        let title = errors.check("title", rules::title(&self.title));
        let description = errors.check("description", rules::description(&self.description));
        let starts_at = errors.check(
            "startsAt",
            match &self.starts_at {
                None => Err("pick a date and a time".into()),
                Some(_) if starts_ms <= now_ms => Err("must be in the future".into()),
                Some(at) => Ok(at.clone()),
            },
        );
        let time_zone = errors.check(
            "timeZone",
            if self.time_zone.trim().is_empty() {
                Err("pick a time zone".into())
            } else {
                Ok(self.time_zone.clone())
            },
        );
        let duration = errors.check(
            "durationMinutes",
            whole_number(&self.duration_minutes).and_then(|m| rules::duration_minutes(m as u32)),
        );
        let capacity = if self.capacity.trim().is_empty() {
            Some(None)
        } else {
            errors
                .check(
                    "capacity",
                    whole_number(&self.capacity).and_then(|n| rules::capacity(n as u32)),
                )
                .map(Some)
        };
        let price = if self.price.trim().is_empty() {
            Some(None)
        } else {
            let currency = errors.check("ticketPrice.currency", rules::currency(&self.currency));
            let amount = currency
                .as_deref()
                .and_then(|c| errors.check("ticketPrice.amountMinor", minor_units(&self.price, c)));
            match (amount, currency) {
                (Some(amount_minor), Some(currency)) => {
                    let mut found = rules::ValidationErrors::default();
                    let money = rules::ticket_price(
                        &mut found,
                        "ticketPrice",
                        &rules::Money {
                            amount_minor,
                            currency,
                        },
                    );
                    for e in found.0 {
                        errors.add(e.field.replace("amount_minor", "amountMinor"), e.message);
                    }
                    money.map(Some)
                }
                _ => None,
            }
        };
        let meeting_url = errors.check("meetingUrl", meeting_url(self.meeting_url.trim()));
        match (
            title,
            description,
            starts_at,
            time_zone,
            duration,
            capacity,
            price,
            meeting_url,
        ) {
            (
                Some(title),
                Some(description),
                Some(starts_at),
                Some(time_zone),
                Some(duration),
                Some(capacity),
                Some(price),
                Some(meeting_url),
            ) if errors.is_empty() => Ok(EventFields {
                title,
                description,
                starts_at,
                time_zone,
                duration_minutes: i64::from(duration),
                capacity: capacity.map(i64::from),
                price,
                meeting_url,
            }),
            _ => Err(FieldErrors(errors)),
        }
    }
}

/// The app's `url` is built without Unicode host names (web/Cargo.lock pins idna_adapter 1.0:
/// the ICU tables would double the app's bytes), so a link with a non-ASCII host is left to the
/// server's check, which has them.
fn meeting_url(raw: &str) -> Result<String, String> {
    match rules::meeting_url(raw) {
        Err(_) if raw.starts_with("https://") && !raw.is_ascii() => Ok(raw.to_owned()),
        checked => checked,
    }
}

fn whole_number(text: &str) -> Result<u64, String> {
    let text = text.trim();
    text.parse::<u64>()
        .ok()
        .filter(|n| *n <= u64::from(u32::MAX))
        .ok_or_else(|| format!("`{text}` is not a whole number"))
}

/// A price as people type it (`25`, `25.5`, `1,250.00`) in minor units of `currency`.
pub fn minor_units(text: &str, currency: &str) -> Result<u64, String> {
    let places = decimals(currency);
    let plain: String = text.trim().chars().filter(|c| *c != ',' && *c != ' ').collect();
    let (whole, fraction) = plain.split_once('.').unwrap_or((&plain, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return Err(format!("`{}` is not an amount", text.trim()));
    }
    if fraction.len() > places as usize {
        return Err(format!("{currency} has {places} decimal places"));
    }
    let scale = 10u64.pow(places);
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| "is too large".to_owned())?
    };
    let fraction: u64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().unwrap_or(0) * 10u64.pow(places - fraction.len() as u32)
    };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(|| "is too large".to_owned())
}

/// A price in minor units as people type it: `25.00` (what `minor_units` reads back).
pub fn amount_text(amount_minor: i64, currency: &str) -> String {
    let places = decimals(currency);
    if places == 0 {
        return amount_minor.to_string();
    }
    let scale = 10i64.pow(places);
    format!(
        "{}.{:0width$}",
        amount_minor / scale,
        amount_minor % scale,
        width = places as usize
    )
}

/// A price in minor units as people read it: `25.00 EUR`.
pub fn show_price(amount_minor: i64, currency: &str) -> String {
    format!("{} {currency}", amount_text(amount_minor, currency))
}

/// What pasting addresses into the invite box would do, before anything is sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InvitePreview {
    /// Normalised, each once, not invited yet: what Send invites.
    pub new: Vec<String>,
    /// As typed, with the reason.
    pub invalid: Vec<(String, String)>,
    pub already_invited: Vec<String>,
}

/// Reads pasted addresses: one per line or separated by commas, semicolons or spaces, also as
/// `Name <address>` the way mail programs copy them.
pub fn preview_invites(pasted: &str, invited: &HashSet<String>) -> InvitePreview {
    let mut preview = InvitePreview::default();
    let mut seen = HashSet::new();
    for entry in pasted.split([',', ';', '\n']) {
        let entry = entry.trim();
        let addresses: Vec<&str> = match (entry.rfind('<'), entry.rfind('>')) {
            (Some(open), Some(close)) if open < close => vec![&entry[open + 1..close]],
            _ => entry.split_whitespace().collect(),
        };
        for raw in addresses {
            match rules::email(raw) {
                Err(why) => preview.invalid.push((raw.to_owned(), why)),
                Ok(email) if invited.contains(&email) => {
                    if seen.insert(email.clone()) {
                        preview.already_invited.push(email);
                    }
                }
                Ok(email) => {
                    if seen.insert(email.clone()) {
                        preview.new.push(email);
                    }
                }
            }
        }
    }
    preview
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> EventForm {
        EventForm {
            title: "Founders evening".into(),
            description: "Drinks, online".into(),
            starts_at: Some("2030-01-01T18:00:00.000Z".into()),
            time_zone: "Europe/Madrid".into(),
            duration_minutes: "90".into(),
            capacity: "".into(),
            price: "".into(),
            currency: "EUR".into(),
            meeting_url: "https://meet.example/founders".into(),
        }
    }

    #[test]
    fn a_good_form_gives_the_apis_fields() {
        let fields = form().check(0.0, 1.0).unwrap();
        assert_eq!(fields.duration_minutes, 90);
        assert_eq!(fields.capacity, None);
        assert_eq!(fields.price, None);
        let paid = EventForm {
            price: "25.5".into(),
            capacity: "40".into(),
            ..form()
        }
        .check(0.0, 1.0)
        .unwrap();
        assert_eq!(
            paid.price,
            Some(rules::Money {
                amount_minor: 2550,
                currency: "EUR".into()
            })
        );
        assert_eq!(paid.capacity, Some(40));
    }

    #[test]
    fn every_failing_field_is_named_with_the_servers_message() {
        let bad = EventForm {
            title: "  ".into(),
            starts_at: None,
            duration_minutes: "2".into(),
            capacity: "many".into(),
            price: "10".into(),
            currency: "EURO".into(),
            meeting_url: "http://meet.example".into(),
            ..form()
        };
        let errors = bad.check(0.0, 1.0).unwrap_err();
        let fields: Vec<&str> = errors.0.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "title",
                "startsAt",
                "durationMinutes",
                "capacity",
                "ticketPrice.currency",
                "meetingUrl"
            ]
        );
        assert_eq!(errors.get("title").unwrap(), rules::title("  ").unwrap_err());
        assert_eq!(errors.get("meetingUrl").unwrap(), "must start with https://");
        let unicode_host = EventForm {
            meeting_url: "https://bücher.example/room".into(),
            ..form()
        };
        assert_eq!(
            unicode_host.check(0.0, 1.0).unwrap().meeting_url,
            "https://bücher.example/room"
        );
        let past = form().check(10.0, 5.0).unwrap_err();
        assert_eq!(past.get("startsAt").unwrap(), "must be in the future");
        let huge = EventForm {
            price: "1000000".into(),
            ..form()
        }
        .check(0.0, 1.0)
        .unwrap_err();
        assert!(
            huge.get("ticketPrice.amountMinor")
                .unwrap()
                .starts_with("must be at most")
        );
    }

    #[test]
    fn prices_are_read_in_the_currencys_minor_units() {
        assert_eq!(minor_units("25", "EUR"), Ok(2500));
        assert_eq!(minor_units("1,250.5", "USD"), Ok(125_050));
        assert_eq!(minor_units(".99", "USD"), Ok(99));
        assert_eq!(minor_units("3000", "JPY"), Ok(3000));
        assert_eq!(minor_units("1.5", "JPY"), Err("JPY has 0 decimal places".into()));
        assert_eq!(minor_units("1.234", "KWD"), Ok(1234));
        assert!(minor_units("ten", "EUR").is_err());
        assert!(minor_units("1.2.3", "EUR").is_err());
        assert!(minor_units(".", "EUR").is_err());
        assert!(minor_units("99999999999999999999", "EUR").is_err());
        assert_eq!(show_price(2550, "EUR"), "25.50 EUR");
        assert_eq!(show_price(3000, "JPY"), "3000 JPY");
        assert_eq!(minor_units(&amount_text(2550, "EUR"), "EUR"), Ok(2550));
    }

    #[test]
    fn pasted_addresses_are_sorted_into_new_invalid_and_already_invited() {
        let invited: HashSet<String> = ["ann@example.com".to_owned()].into();
        let preview = preview_invites(
            "Bob <Bob@Example.com>, ann@example.com; carl@example.com dora@example\n\nbob@example.com",
            &invited,
        );
        assert_eq!(preview.new, ["bob@example.com", "carl@example.com"]);
        assert_eq!(preview.already_invited, ["ann@example.com"]);
        assert_eq!(preview.invalid.len(), 1);
        assert_eq!(preview.invalid[0].0, "dora@example");
        assert_eq!(preview.invalid[0].1, rules::email("dora@example").unwrap_err());
    }
}
