// Podium's GraphiQL: queries and mutations over POST /graphql, subscriptions over graphql-transport-ws.
// Put your token in the Headers tab: {"Authorization": "Bearer <token>"}.
(function () {
  var url = window.location.origin + window.location.pathname;
  var fetcher = GraphiQL.createFetcher({
    url: url,
    subscriptionUrl: url.replace(/^http/, "ws"),
  });
  var example = "# Podium's GraphQL API. Put a token in Headers: {\"Authorization\": \"Bearer <token>\"}\n" +
    "{\n  sessions(first: 5) {\n    totalCount\n" +
    "    edges { node { id title startsAt seatsLeft course { code title } } }\n  }\n}\n";
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultQuery: example,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
  }));
})();
