//! Times as the reader's browser writes them, in any IANA zone, through `Intl.DateTimeFormat`
//! (no time zone database in the app).

use js_sys::{Array, Date, Intl, Object, Reflect};
use wasm_bindgen::JsValue;

/// `rfc3339` as a date and time in `zone` (the browser's own zone when None), with the zone's
/// short name; the input itself when the browser cannot read it.
pub fn when(rfc3339: &str, zone: Option<&str>) -> String {
    let date = Date::new(&JsValue::from_str(rfc3339));
    if date.get_time().is_nan() {
        return rfc3339.to_owned();
    }
    let options = Object::new();
    for (key, value) in [
        ("weekday", "long"),
        ("day", "numeric"),
        ("month", "long"),
        ("year", "numeric"),
        ("hour", "numeric"),
        ("minute", "2-digit"),
        ("timeZoneName", "short"),
    ] {
        let _ = Reflect::set(&options, &key.into(), &value.into());
    }
    if let Some(zone) = zone {
        let _ = Reflect::set(&options, &"timeZone".into(), &zone.into());
    }
    let format = Intl::DateTimeFormat::new(&Array::new(), &options);
    format
        .format()
        .call1(&JsValue::UNDEFINED, &date)
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_else(|| rfc3339.to_owned())
}

/// The browser's own IANA zone, e.g. `Europe/Madrid`.
pub fn own_zone() -> Option<String> {
    let options = Intl::DateTimeFormat::new(&Array::new(), &Object::new()).resolved_options();
    Reflect::get(&options, &"timeZone".into()).ok()?.as_string()
}

/// How far away an event is, for a countdown: "Starts in 2 days, 4 hours", "Happening now"
/// (between start and end), "Ended".
pub fn countdown(now_ms: f64, starts_ms: f64, duration_minutes: i64) -> String {
    let ends_ms = starts_ms + duration_minutes as f64 * 60_000.0;
    if now_ms >= ends_ms {
        return "Ended".into();
    }
    if now_ms >= starts_ms {
        return "Happening now".into();
    }
    let minutes = ((starts_ms - now_ms) / 60_000.0).ceil() as i64;
    let (days, hours, mins) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    let unit = |n: i64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    let parts = match (days, hours, mins) {
        (0, 0, _) => unit(mins, "minute"),
        (0, _, 0) => unit(hours, "hour"),
        (0, _, _) => format!("{}, {}", unit(hours, "hour"), unit(mins, "minute")),
        (_, 0, _) => unit(days, "day"),
        _ => format!("{}, {}", unit(days, "day"), unit(hours, "hour")),
    };
    format!("Starts in {parts}")
}

/// Milliseconds since the epoch of an RFC 3339 time, as the browser reads it.
pub fn epoch_ms(rfc3339: &str) -> f64 {
    Date::new(&JsValue::from_str(rfc3339)).get_time()
}

#[cfg(test)]
mod tests {
    use super::countdown;

    const MINUTE: f64 = 60_000.0;

    #[test]
    fn the_countdown_names_the_largest_units_and_knows_when_it_is_on_or_over() {
        let start = 1_000.0 * MINUTE;
        assert_eq!(
            countdown(start - 35.0 * MINUTE, start, 60),
            "Starts in 35 minutes"
        );
        assert_eq!(
            countdown(start - 61.0 * MINUTE, start, 60),
            "Starts in 1 hour, 1 minute"
        );
        assert_eq!(
            countdown(start - (2.0 * 1440.0 + 240.0) * MINUTE, start, 60),
            "Starts in 2 days, 4 hours"
        );
        assert_eq!(countdown(start - 0.5 * MINUTE, start, 60), "Starts in 1 minute");
        assert_eq!(countdown(start - 120.0 * MINUTE, start, 60), "Starts in 2 hours");
        assert_eq!(
            countdown(start - 30.0 * 1440.0 * MINUTE, start, 60),
            "Starts in 30 days"
        );
        assert_eq!(countdown(start, start, 60), "Happening now");
        assert_eq!(countdown(start + 60.0 * MINUTE, start, 60), "Ended");
    }
}
