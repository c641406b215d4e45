//! The AWS side of the asynchronous tier: the handlers the Lambdas run, over the AWS adapters.
//! Each handler is a plain async function of the `aws_lambda_events` shapes, so tests call it
//! with the same records the Lambda gets.

pub mod fact_index;
pub mod fan_out;
pub mod lambda;
pub mod mail;
pub mod opensearch;
pub mod projection;
pub mod rebuild;
pub mod sqs;
