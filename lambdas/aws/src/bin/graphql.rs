//! Lambda: the GraphQL API behind API Gateway (`/graphql`). It reads the read models and sends
//! writes to the command API. Environment: see `aws::http_api`.

use lambda_http::Error;
use slsplay_aws::http_api::{GraphqlConfig, graphql_router};
use slsplay_aws::lambda::{init_logging, sdk_config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let config = sdk_config().await;
    lambda_http::run(graphql_router(&config, &GraphqlConfig::from_env()?)).await
}
