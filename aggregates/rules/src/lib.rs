//! The field rules of every entry point (domain, REST API, GraphQL, and the web app compiled to
//! wasm): each rule names the field it checks, and a command reports all failing fields at once.

pub mod ical;

use std::fmt;

use serde::{Deserialize, Serialize};

/// One failing field: `field` is a JSON-pointer-like path (`emails[3]`, `ticket_price.currency`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// All failing fields of one command, in the order they were checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Runs a parse rule, recording its failure under `field`; `None` when it failed.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing failed, so callers can `?` after checking every field.
    pub fn into_result(self) -> Result<(), Self> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.field, e.message)?;
        }
        Ok(())
    }
}

pub const TITLE_MAX_CHARS: usize = 120;
pub const DESCRIPTION_MAX_CHARS: usize = 2_000;
pub const CANCEL_MESSAGE_MAX_CHARS: usize = 2_000;
pub const MIN_DURATION_MINUTES: u32 = 5;
pub const MAX_DURATION_MINUTES: u32 = 24 * 60;
pub const MAX_CAPACITY: u32 = 100_000;
pub const EMAIL_MAX_CHARS: usize = 254;
pub const MAX_INVITES_PER_CALL: usize = 100;
pub const PHOTO_MAX_BYTES: u64 = 10 * 1024 * 1024;
pub const VIDEO_MAX_BYTES: u64 = 200 * 1024 * 1024;
pub const OBJECT_KEY_MAX_CHARS: usize = 1_024;
pub const PAYMENT_REFERENCE_MAX_CHARS: usize = 200;
/// 999,999.99 in a two-decimal currency: the most a card processor takes in one charge, and
/// well inside the read models' signed 64-bit column and JSON's exact integers.
pub const MAX_TICKET_PRICE_MINOR: u64 = 99_999_999;

/// A title: trimmed, 1 to 120 characters, no control characters.
pub fn title(raw: &str) -> Result<String, String> {
    let t = bounded_text(raw, TITLE_MAX_CHARS, true)?;
    if t.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(t)
}

/// A description: trimmed, up to 2,000 characters (empty is allowed), lines and tabs but no
/// other control characters.
pub fn description(raw: &str) -> Result<String, String> {
    multiline(bounded_text(raw, DESCRIPTION_MAX_CHARS, false)?)
}

/// The message sent to invitees when an event is cancelled: 1 to 2,000 characters, lines and
/// tabs but no other control characters.
pub fn cancel_message(raw: &str) -> Result<String, String> {
    multiline(bounded_text(raw, CANCEL_MESSAGE_MAX_CHARS, true)?)
}

/// Text that reaches pages and emails keeps its line breaks (a form's textarea sends CRLF) and
/// tabs; a NUL or an escape sequence has no business there.
fn multiline(text: String) -> Result<String, String> {
    match text
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        Some(c) => Err(format!(
            "must not contain control characters other than line breaks and tabs (found U+{:04X})",
            u32::from(c)
        )),
        None => Ok(text),
    }
}

/// The length bound counts what the caller sent, before trimming, as the API's schema and a
/// form's `maxlength` do: a text the schema refuses is never accepted because it was padding.
fn bounded_text(raw: &str, max: usize, required: bool) -> Result<String, String> {
    let n = raw.chars().count();
    if n > max {
        return Err(format!("must be at most {max} characters, got {n}"));
    }
    let t = raw.trim();
    if required && t.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(t.to_owned())
}

/// How many addresses one Invite may carry.
pub fn invite_count(n: usize) -> Result<(), String> {
    if (1..=MAX_INVITES_PER_CALL).contains(&n) {
        Ok(())
    } else {
        Err(format!(
            "give 1 to {MAX_INVITES_PER_CALL} addresses per call, got {n}"
        ))
    }
}

/// An IANA time zone name such as `Europe/Paris`.
#[cfg(feature = "time-zones")]
pub fn time_zone(raw: &str) -> Result<String, String> {
    raw.trim()
        .parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| format!("`{raw}` is not an IANA time zone (like Europe/Paris)"))
}

/// A start time: strictly after `now`.
pub fn in_the_future(
    at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if at > now {
        Ok(at)
    } else {
        Err(format!("must be in the future (now is {now})"))
    }
}

pub fn duration_minutes(minutes: u32) -> Result<u32, String> {
    if (MIN_DURATION_MINUTES..=MAX_DURATION_MINUTES).contains(&minutes) {
        Ok(minutes)
    } else {
        Err(format!(
            "must be between {MIN_DURATION_MINUTES} and {MAX_DURATION_MINUTES} minutes, got {minutes}"
        ))
    }
}

pub fn capacity(seats: u32) -> Result<u32, String> {
    if (1..=MAX_CAPACITY).contains(&seats) {
        Ok(seats)
    } else {
        Err(format!("must be between 1 and {MAX_CAPACITY} seats, got {seats}"))
    }
}

/// The meeting link: an absolute `https` URL with a host. It must begin with `https://`
/// exactly, as the API's schema says; the URL parser alone would also take ` HTTPS://`.
pub fn meeting_url(raw: &str) -> Result<String, String> {
    if !raw.starts_with("https://") {
        return Err("must start with https://".into());
    }
    let parsed = url::Url::parse(raw).map_err(|e| format!("is not a valid URL: {e}"))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    Ok(parsed.to_string())
}

/// An email address, normalised: trimmed and lower-cased, so that one person is one invitee.
/// The check is deliberately practical (one `@`, a dotted domain, no spaces), not RFC 5322.
pub fn email(raw: &str) -> Result<String, String> {
    let e = raw.trim().to_lowercase();
    if e.is_empty() {
        return Err("must not be empty".into());
    }
    if e.len() > EMAIL_MAX_CHARS {
        return Err(format!("must be at most {EMAIL_MAX_CHARS} characters"));
    }
    let Some((local, domain)) = e.split_once('@') else {
        return Err(format!("`{raw}` is not an email address"));
    };
    let labels_ok = domain.split('.').count() >= 2
        && domain.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    if labels_ok && local_ok {
        Ok(e)
    } else {
        Err(format!("`{raw}` is not an email address"))
    }
}

/// Digits after the decimal point of a currency (ISO 4217's minor unit); two for most.
pub fn currency_decimals(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "VND"
        | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// A price in minor units of an ISO 4217 currency (cents for USD, yen for JPY).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: u64,
    pub currency: String,
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount_minor, self.currency)
    }
}

impl Money {
    /// As people read it: `25.00 EUR`.
    pub fn shown(&self) -> String {
        let places = currency_decimals(&self.currency);
        let scale = 10u64.pow(places);
        let whole = self.amount_minor / scale;
        match places {
            0 => format!("{whole} {}", self.currency),
            _ => format!(
                "{whole}.{:0width$} {}",
                self.amount_minor % scale,
                self.currency,
                width = places as usize
            ),
        }
    }
}

/// Checks a ticket price; failures are reported under `field.amount_minor` / `field.currency`.
pub fn ticket_price(errors: &mut ValidationErrors, field: &str, price: &Money) -> Option<Money> {
    let amount = errors.check(
        &format!("{field}.amount_minor"),
        if price.amount_minor == 0 {
            Err("must be greater than zero; leave the price out for a free event".into())
        } else if price.amount_minor > MAX_TICKET_PRICE_MINOR {
            Err(format!(
                "must be at most {MAX_TICKET_PRICE_MINOR} minor units, got {}",
                price.amount_minor
            ))
        } else {
            Ok(price.amount_minor)
        },
    );
    let currency = errors.check(&format!("{field}.currency"), currency(&price.currency));
    Some(Money {
        amount_minor: amount?,
        currency: currency?,
    })
}

pub fn currency(raw: &str) -> Result<String, String> {
    let c = raw.trim().to_ascii_uppercase();
    if ISO_4217.binary_search(&c.as_str()).is_ok() {
        Ok(c)
    } else {
        Err(format!("`{raw}` is not an ISO 4217 currency code"))
    }
}

/// Active ISO 4217 codes (sorted, for binary search).
pub const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD",
    "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CLP", "CNY",
    "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP",
    "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR",
    "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT",
    "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR",
    "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK",
    "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD",
    "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY",
    "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG",
    "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// Media kinds an event can show, with the content types and sizes each accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Photo,
    Video,
}

impl MediaKind {
    pub fn allowed_content_types(self) -> &'static [&'static str] {
        match self {
            Self::Photo => &["image/jpeg", "image/png", "image/webp"],
            Self::Video => &["video/mp4", "video/webm"],
        }
    }

    pub fn max_bytes(self) -> u64 {
        match self {
            Self::Photo => PHOTO_MAX_BYTES,
            Self::Video => VIDEO_MAX_BYTES,
        }
    }
}

pub fn content_type(kind: MediaKind, raw: &str) -> Result<String, String> {
    let c = raw.trim().to_ascii_lowercase();
    if kind.allowed_content_types().contains(&c.as_str()) {
        Ok(c)
    } else {
        Err(format!(
            "must be one of {}, got `{raw}`",
            kind.allowed_content_types().join(", ")
        ))
    }
}

pub fn media_size(kind: MediaKind, bytes: u64) -> Result<u64, String> {
    if bytes == 0 {
        Err("must not be empty".into())
    } else if bytes > kind.max_bytes() {
        Err(format!(
            "must be at most {} MB, got {bytes} bytes",
            kind.max_bytes() / (1024 * 1024)
        ))
    } else {
        Ok(bytes)
    }
}

/// An object key in the blob store: relative, no `..` segments, printable.
pub fn object_key(raw: &str) -> Result<String, String> {
    let k = raw.trim();
    if k.is_empty() || k.len() > OBJECT_KEY_MAX_CHARS {
        return Err(format!("must be 1 to {OBJECT_KEY_MAX_CHARS} characters"));
    }
    if k.starts_with('/') || k.split('/').any(|s| s == ".." || s == ".") {
        return Err("must be a relative key without `.` or `..` segments".into());
    }
    if k.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(k.to_owned())
}

pub fn payment_reference(raw: &str) -> Result<String, String> {
    let r = raw.trim();
    if r.is_empty() || r.chars().count() > PAYMENT_REFERENCE_MAX_CHARS {
        return Err(format!("must be 1 to {PAYMENT_REFERENCE_MAX_CHARS} characters"));
    }
    Ok(r.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_currency_table_is_sorted_for_binary_search() {
        assert!(ISO_4217.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(email("  Ada@Example.COM ").unwrap(), "ada@example.com");
    }

    #[test]
    fn malformed_emails_are_rejected() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@@example.com",
            "ada@-x.com",
            "a..b@example.com",
        ] {
            assert!(email(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn a_title_of_121_characters_is_rejected_and_120_is_accepted() {
        assert!(title(&"é".repeat(121)).is_err());
        assert_eq!(title(&"é".repeat(120)).unwrap().chars().count(), 120);
        let padded = format!(" {} ", "é".repeat(119));
        assert!(
            title(&padded).is_err(),
            "121 characters sent, even if two are spaces"
        );
        assert_eq!(title(&format!(" {} ", "é".repeat(118))).unwrap(), "é".repeat(118));
    }

    #[test]
    fn a_cancel_message_padded_past_2000_characters_is_rejected() {
        let padded = format!("Sorry!{}", "\u{c}".repeat(1_995));
        assert!(cancel_message(&padded).is_err());
        assert_eq!(cancel_message(&padded[..padded.len() - 1]).unwrap(), "Sorry!");
        assert!(cancel_message(" ").is_err());
    }

    #[test]
    fn meeting_urls_must_be_https() {
        assert!(meeting_url("http://meet.example.com/x").is_err());
        assert!(meeting_url("javascript:alert(1)").is_err());
        assert!(meeting_url("https://meet.example.com/x").is_ok());
        assert!(meeting_url(" https://meet.example.com/x").is_err());
        assert!(meeting_url("HTTPS://meet.example.com/x").is_err());
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(time_zone("Europe/Paris").unwrap(), "Europe/Paris");
        assert!(time_zone("CEST+2").is_err());
    }

    #[test]
    fn currency_codes_are_normalised_and_checked() {
        assert_eq!(currency("eur").unwrap(), "EUR");
        assert!(currency("XYZ").is_err());
    }

    #[test]
    fn object_keys_cannot_escape_their_prefix() {
        assert!(object_key("events/1/../../etc/passwd").is_err());
        assert!(object_key("/abs").is_err());
        assert!(object_key("events/1/cover.jpg").is_ok());
    }

    #[test]
    fn a_price_reports_each_failing_part() {
        let mut errors = ValidationErrors::default();
        let price = Money {
            amount_minor: 0,
            currency: "EURO".into(),
        };
        assert!(ticket_price(&mut errors, "ticket_price", &price).is_none());
        let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["ticket_price.amount_minor", "ticket_price.currency"]);
    }

    #[test]
    fn a_price_past_the_largest_charge_is_refused() {
        let price = |amount_minor| Money {
            amount_minor,
            currency: "USD".into(),
        };
        let mut errors = ValidationErrors::default();
        assert!(ticket_price(&mut errors, "ticket_price", &price(MAX_TICKET_PRICE_MINOR)).is_some());
        for too_much in [MAX_TICKET_PRICE_MINOR + 1, 1 << 63, u64::MAX] {
            let mut errors = ValidationErrors::default();
            assert!(ticket_price(&mut errors, "ticket_price", &price(too_much)).is_none());
            let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, ["ticket_price.amount_minor"]);
        }
    }

    #[test]
    fn multiline_texts_keep_lines_and_tabs_but_no_other_control_characters() {
        assert_eq!(
            description("Line one\r\nline two\n\tindented").unwrap(),
            "Line one\r\nline two\n\tindented"
        );
        assert!(description("Tea\0time").is_err());
        assert!(description("\u{1b}[31mred").is_err());
        assert!(description("bell\u{7}").is_err());
        assert!(description("next\u{85}line").is_err());
        assert!(cancel_message("Sorry\0").is_err());
        assert_eq!(
            cancel_message("Sorry,\nwe must cancel.").unwrap(),
            "Sorry,\nwe must cancel."
        );
    }
}
