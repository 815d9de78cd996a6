"""Reviewing changes: the semantic diff of two specs."""
