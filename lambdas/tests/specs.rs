//! The API descriptions clients build against are checked in; these tests fail when the code
//! and the checked-in files part ways. Regenerate with
//! `SLSPLAY_UPDATE_SPECS=1 cargo test -p slsplay-lambdas --test specs`.

use std::path::Path;

fn check(file: &str, current: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    if std::env::var_os("SLSPLAY_UPDATE_SPECS").is_some() {
        std::fs::write(&path, current).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == current,
        "{} is stale: run SLSPLAY_UPDATE_SPECS=1 cargo test -p slsplay-lambdas --test specs, review the diff, commit it",
        path.display()
    );
}

#[test]
fn the_checked_in_openapi_spec_is_the_one_the_code_serves() {
    let spec = slsplay_lambdas::api::spec::openapi_json();
    let parsed: serde_json::Value = serde_json::from_str(&spec).unwrap();
    assert_eq!(parsed["openapi"], "3.1.0");
    check("openapi.json", &spec);
}

#[test]
fn the_checked_in_graphql_schema_is_the_one_the_code_serves() {
    let sdl = slsplay_lambdas::graphql::sdl();
    assert!(sdl.contains("interface Node"), "{sdl}");
    check("schema.graphql", &sdl);
}
