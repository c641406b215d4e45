//! Lambda: the REST command API behind API Gateway (HTTP API, routes `/api/{proxy+}`), the
//! same axum router the local platform serves. Environment: see `aws::http_api`.

use lambda_http::Error;
use slsplay_aws::http_api::{ApiConfig, api_router};
use slsplay_aws::lambda::{init_logging, sdk_config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let config = sdk_config().await;
    lambda_http::run(api_router(&config, &ApiConfig::from_env()?)?).await
}
