"""Provenance and leak tracing: Content Credentials (C2PA) signing and verifying, signing identity, invisible mark."""
