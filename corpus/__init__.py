"""Text written by hand for the project, kept as data: not generated, not templated (issue 36)."""
