"""Code structure through tree-sitter: the offline grammar wheels, loaded on first use, for the
rooms that need to know where a block ends (post-processing) or what a file defines and imports
(repository context)."""
