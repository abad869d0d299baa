"""Federated studies: aggregate-only site files and their pooling (docs/federation.md)."""
