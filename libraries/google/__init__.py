"""Google's side: credentials and scopes, the Directory API client with its batches, retries and quota pacing,
reads, access checks, and what each of Google's answers means. Imports core, settings and state.
"""
