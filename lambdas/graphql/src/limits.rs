//! Bounds on what one operation may ask for, so that no query can make the API do unbounded
//! work: body size, depth, complexity (connections count `first` times their fields), aliases.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, Variables};

/// The largest operation of the web app, an Invite of 100 addresses of 254 characters, is
/// about 27 KB; a body past this is refused before it is read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The deepest query of the web app nests 9 levels.
pub const MAX_DEPTH: usize = 10;
/// With introspection on (local development), GraphiQL's and schemathesis's introspection
/// query nests `ofType` deeper than any data query; it still has the complexity limit.
pub const MAX_DEPTH_WITH_INTROSPECTION: usize = 16;
pub const MAX_COMPLEXITY: usize = 2_000;
pub const MAX_RECURSIVE_DEPTH: usize = 32;
pub const MAX_DIRECTIVES: usize = 5;
pub const MAX_ALIASES: usize = 30;

/// async-graphql limits depth and complexity itself; aliases (the way to ask for one
/// expensive field many times) are counted here.
pub struct AliasLimit(pub usize);

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasLimitExtension(self.0))
    }
}

struct AliasLimitExtension(usize);

fn aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => usize::from(f.node.alias.is_some()) + aliases(&f.node.selection_set.node),
            Selection::InlineFragment(f) => aliases(&f.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

#[async_graphql::async_trait::async_trait]
impl Extension for AliasLimitExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let count: usize = document
            .operations
            .iter()
            .map(|(_, op)| aliases(&op.node.selection_set.node))
            .chain(
                document
                    .fragments
                    .values()
                    .map(|f| aliases(&f.node.selection_set.node)),
            )
            .sum();
        if count > self.0 {
            return Err(ServerError::new(
                format!(
                    "the operation uses {count} aliases; at most {} are allowed",
                    self.0
                ),
                None,
            ));
        }
        Ok(document)
    }
}
