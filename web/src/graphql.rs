//! The GraphQL API, the app's only backend: operations typed from `graphql/*.graphql` against
//! the API's checked-in SDL, so a schema change that breaks the app fails its build.

use graphql_client::GraphQLQuery;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../lambdas/graphql/schema.graphql",
    query_path = "graphql/invitation.graphql",
    response_derives = "Debug, Clone, PartialEq"
)]
pub struct InvitationPage;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../lambdas/graphql/schema.graphql",
    query_path = "graphql/invitation.graphql",
    response_derives = "Debug, Clone, PartialEq"
)]
pub struct AnswerInvitation;

/// Why an operation has no answer: the API could not be reached or refused the operation.
/// Never shown as "not found".
#[derive(Debug, Clone, PartialEq)]
pub struct Unavailable(pub String);

/// Runs `Q` with the personal link's token in the `Invitation-Token` header.
pub async fn with_link_token<Q: GraphQLQuery>(
    variables: Q::Variables,
    link_token: &str,
) -> Result<Q::ResponseData, Unavailable> {
    let body = Q::build_query(variables);
    let response = gloo_net::http::Request::post("/graphql")
        .header("Invitation-Token", link_token)
        .json(&body)
        .map_err(|e| Unavailable(e.to_string()))?
        .send()
        .await
        .map_err(|_| Unavailable("the platform cannot be reached; check your connection".into()))?;
    if !response.ok() {
        return Err(Unavailable(format!(
            "the platform answered {} {}; try again in a moment",
            response.status(),
            response.status_text()
        )));
    }
    let answer: graphql_client::Response<Q::ResponseData> =
        response.json().await.map_err(|e| Unavailable(e.to_string()))?;
    match (answer.data, answer.errors) {
        (Some(data), None) => Ok(data),
        (_, Some(errors)) if !errors.is_empty() => Err(Unavailable(errors[0].message.clone())),
        (Some(data), _) => Ok(data),
        (None, _) => Err(Unavailable("the platform sent no answer".into())),
    }
}
