"""Who is calling: bearer tokens, callers and the `issueToken` mutation."""
