//! The crate layout ARCHITECTURE.md promises, checked on the resolved dependency graph: the
//! local platform and the shared API layers link no AWS-only crate (not even the DynamoDB
//! client: the stores' `dynamo` feature stays off for them), and GraphQL reaches the write side
//! only through the REST API.

use std::collections::BTreeSet;
use std::process::Command;

/// Crates only the Lambdas may link.
const AWS_ONLY: &[&str] = &[
    "slsplay-aws",
    "aws-sdk-dynamodb",
    "dynamo-es",
    "aws-sdk-sqs",
    "aws-sdk-sesv2",
    "aws-config",
    "opensearch",
    "lambda_runtime",
    "lambda_http",
    "aws_lambda_events",
];

/// Every crate `package` links (normal and build dependencies, as resolved for it alone).
fn linked(package: &str, depth: Option<u32>) -> BTreeSet<String> {
    let mut command = Command::new(env!("CARGO"));
    command.args([
        "tree",
        "--locked",
        "--offline",
        "--package",
        package,
        "--edges",
        "normal,build",
        "--prefix",
        "none",
        "--format",
        "{lib}",
    ]);
    if let Some(depth) = depth {
        command.args(["--depth", &depth.to_string()]);
    }
    let out = command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("cargo tree prints UTF-8")
        .lines()
        .map(|line| line.trim().replace('_', "-"))
        .filter(|line| !line.is_empty())
        .collect()
}

fn normalised(name: &str) -> String {
    name.replace('_', "-")
}

#[test]
fn the_local_platform_and_the_shared_api_layers_link_no_aws_only_crate() {
    for package in ["slsplay-local", "slsplay-api", "slsplay-graphql", "slsplay-jobs"] {
        let crates = linked(package, None);
        assert!(crates.contains(&normalised(package)), "{package}: {crates:?}");
        let found: Vec<&str> = AWS_ONLY
            .iter()
            .copied()
            .filter(|c| crates.contains(&normalised(c)))
            .collect();
        assert!(found.is_empty(), "{package} links {found:?}");
    }
}

#[test]
fn graphql_reaches_the_write_side_only_through_the_rest_api() {
    let direct = linked("slsplay-graphql", Some(1));
    assert!(direct.contains("slsplay-api"), "{direct:?}");
    assert!(
        !direct.contains("slsplay-commands"),
        "slsplay-graphql depends on the command service: {direct:?}"
    );
}

#[test]
fn the_lambdas_do_link_their_aws_crates() {
    // The check above would pass vacuously if the names it looks for were never printed.
    let crates = linked("slsplay-aws", None);
    for name in [
        "aws-sdk-sqs",
        "aws-sdk-dynamodb",
        "dynamo-es",
        "lambda-runtime",
        "opensearch",
    ] {
        assert!(crates.contains(name), "slsplay-aws: no {name} in {crates:?}");
    }
}

/// The field rules compile to wasm for the web app, so they stay apart from the aggregate's
/// machinery: only serde, chrono (without the host clock), chrono-tz and url.
#[test]
fn the_field_rules_the_web_app_shares_link_only_small_pure_crates() {
    let direct = linked("slsplay-rules", Some(1));
    let expected: BTreeSet<String> = ["slsplay-rules", "serde", "chrono", "chrono-tz", "url"]
        .map(String::from)
        .into();
    assert_eq!(direct, expected);
    let web: String =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/Cargo.toml")).unwrap();
    assert!(
        web.contains("slsplay-rules = { path = \"../aggregates/rules\", default-features = false }"),
        "the web app takes the rules without the IANA database"
    );
}
