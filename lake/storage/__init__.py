"""Storage: the Delta lake (layers, reads, merges); the LanceDB side joins it with the search index."""
