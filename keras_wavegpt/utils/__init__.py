"""Helpers every layer of the package may use."""
