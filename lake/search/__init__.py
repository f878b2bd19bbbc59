"""Search: every live note, document page and form answer as chunks in LanceDB (full text, vectors,
filter columns), kept in step with the lake, and the ranked, filtered, person-aware query over them."""
