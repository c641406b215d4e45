//! The local platform's asynchronous tier: the stand-ins for DynamoDB Streams, the fan-out
//! Lambda, SQS and the projection Lambdas, running the same handlers in this process.

pub mod pipeline;
pub mod rebuild;
