"""Small shared vocabularies with no dependencies, safe to import from the CLI at start-up."""

SERIES_KINDS = ("sensor", "stock", "metric", "other")
DUPLICATE_POLICIES = ("last", "first", "error")
MAX_EXAMPLES = 5  # how many example rows an error message or report lists
