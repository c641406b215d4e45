//! Times as the reader's browser writes them, in any IANA zone, through `Intl.DateTimeFormat`
//! (no time zone database in the app).

use js_sys::{Array, Date, Intl, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

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

/// The instant (ms since the epoch) a wall-clock time names in a zone whose UTC offset at an
/// instant is `offset_at` (ms). The offsets in force half a day either side are the candidates
/// (no zone changes twice within a day): a time that occurs twice in autumn is its first
/// occurrence, and a time skipped in spring moves forward by the change, as calendars do.
fn resolve(wall_ms: f64, offset_at: impl Fn(f64) -> f64) -> f64 {
    const HALF_DAY: f64 = 14.0 * 3_600_000.0;
    let before = offset_at(wall_ms - HALF_DAY);
    let after = offset_at(wall_ms + HALF_DAY);
    [before, after]
        .into_iter()
        .map(|offset| wall_ms - offset)
        .filter(|&at| wall_ms - offset_at(at) == at)
        .reduce(f64::min)
        .unwrap_or(wall_ms - before)
}

/// A date (`YYYY-MM-DD`) and time (`HH:MM`) as picked in `zone`, as RFC 3339 in UTC; None when
/// they are not a date and time.
pub fn from_zone(date: &str, time: &str, zone: &str) -> Option<String> {
    let mut d = date.splitn(3, '-').map(|p| p.parse::<u32>().ok());
    let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
    let (h, mi) = time.split_once(':')?;
    let (h, mi) = (h.parse::<u32>().ok()?, mi.parse::<u32>().ok()?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 {
        return None;
    }
    let wall = Date::utc(y as f64, (mo - 1) as f64)
        + (da as f64 - 1.0) * 86_400_000.0
        + (h as f64 * 60.0 + mi as f64) * 60_000.0;
    let format = zone_format(zone)?;
    let instant = resolve(wall, |at| wall_clock_ms(&format, at).map_or(0.0, |w| w - at));
    let date = Date::new(&JsValue::from_f64(instant));
    (!date.get_time().is_nan())
        .then(|| date.to_iso_string().as_string())
        .flatten()
}

/// The date (`YYYY-MM-DD`) and time (`HH:MM`) an RFC 3339 instant shows in `zone`, for a form.
pub fn to_zone(rfc3339: &str, zone: &str) -> Option<(String, String)> {
    let at = epoch_ms(rfc3339);
    let wall = wall_clock_ms(&zone_format(zone)?, at)?;
    let iso = Date::new(&JsValue::from_f64(wall)).to_iso_string().as_string()?;
    Some((iso.get(..10)?.to_owned(), iso.get(11..16)?.to_owned()))
}

/// Every IANA zone the browser knows, for a picker (the own zone alone when it lists none).
pub fn zones() -> Vec<String> {
    let listed = Reflect::get(&js_sys::global(), &"Intl".into())
        .and_then(|intl| Reflect::get(&intl, &"supportedValuesOf".into()).map(|f| (intl, f)))
        .ok()
        .and_then(|(intl, f)| {
            f.dyn_into::<js_sys::Function>()
                .ok()?
                .call1(&intl, &"timeZone".into())
                .ok()
        })
        .map(|list| {
            Array::from(&list)
                .iter()
                .filter_map(|z| z.as_string())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if listed.is_empty() {
        own_zone().into_iter().chain(["UTC".to_owned()]).collect()
    } else {
        listed
    }
}

fn zone_format(zone: &str) -> Option<Intl::DateTimeFormat> {
    let options = Object::new();
    for (key, value) in [
        ("timeZone", zone),
        ("hourCycle", "h23"),
        ("year", "numeric"),
        ("month", "numeric"),
        ("day", "numeric"),
        ("hour", "numeric"),
        ("minute", "numeric"),
        ("second", "numeric"),
    ] {
        let _ = Reflect::set(&options, &key.into(), &value.into());
    }
    // An unknown zone throws, which Reflect::construct returns as an error. (Not `new
    // Function`: the page's Content-Security-Policy forbids eval.)
    let intl = Reflect::get(&js_sys::global(), &"Intl".into()).ok()?;
    let constructor = Reflect::get(&intl, &"DateTimeFormat".into())
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?;
    Reflect::construct(&constructor, &Array::of2(&"en-US".into(), &options))
        .ok()
        .map(|f| f.unchecked_into::<Intl::DateTimeFormat>())
}

/// The wall clock of instant `at` in the format's zone, read as if it were UTC (ms).
fn wall_clock_ms(format: &Intl::DateTimeFormat, at: f64) -> Option<f64> {
    let parts = format.format_to_parts(&Date::new(&JsValue::from_f64(at)));
    let mut fields = [0f64; 6];
    for part in parts.iter() {
        let kind = Reflect::get(&part, &"type".into()).ok()?.as_string()?;
        let value = Reflect::get(&part, &"value".into()).ok()?.as_string()?;
        let slot = ["year", "month", "day", "hour", "minute", "second"]
            .iter()
            .position(|k| *k == kind);
        if let Some(slot) = slot {
            fields[slot] = value.parse().ok()?;
        }
    }
    let [y, mo, d, h, mi, sec] = fields;
    Some(Date::utc(y, mo - 1.0) + (d - 1.0) * 86_400_000.0 + ((h * 60.0 + mi) * 60.0 + sec) * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::{countdown, resolve};

    const HOUR: f64 = 3_600_000.0;

    /// New York around a change at `change` (UTC ms): -5 h before, -4 h after (spring), or
    /// the reverse (autumn).
    fn zone(change: f64, before: f64, after: f64) -> impl Fn(f64) -> f64 {
        move |at| if at < change { before * HOUR } else { after * HOUR }
    }

    #[test]
    fn a_wall_clock_time_resolves_to_the_offset_in_force_then() {
        // Spring: at 07:00 UTC (02:00 local) clocks jump from -5 to -4.
        let change = 100.0 * HOUR + 7.0 * HOUR;
        let spring = zone(change, -5.0, -4.0);
        let wall = |h: f64| 100.0 * HOUR + h * HOUR;
        assert_eq!(
            resolve(wall(1.5), &spring),
            wall(1.5) + 5.0 * HOUR,
            "01:30 is still -5"
        );
        assert_eq!(resolve(wall(3.0), &spring), wall(3.0) + 4.0 * HOUR, "03:00 is -4");
        // 02:30 does not exist: it becomes 03:30 EDT, the instant 07:30 UTC.
        assert_eq!(resolve(wall(2.5), &spring), wall(2.5) + 5.0 * HOUR);
        // Autumn: at 06:00 UTC (02:00 EDT) clocks fall back from -4 to -5; 01:30 happens twice.
        let change = 100.0 * HOUR + 6.0 * HOUR;
        let autumn = zone(change, -4.0, -5.0);
        assert_eq!(
            resolve(wall(1.5), &autumn),
            wall(1.5) + 4.0 * HOUR,
            "the first 01:30"
        );
        assert_eq!(resolve(wall(3.0), &autumn), wall(3.0) + 5.0 * HOUR);
    }

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
