"""Test helpers shared across layers (fault injection into real clients)."""
