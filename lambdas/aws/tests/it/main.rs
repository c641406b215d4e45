//! The AWS adapters and Lambda handlers against moto (which the tests start themselves) and,
//! for OpenSearch, a fake domain at the HTTP level. One test binary, so one link.

mod aws_http;
mod aws_path;
mod opensearch;
mod scheduler;
