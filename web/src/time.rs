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
