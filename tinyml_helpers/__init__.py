"""Helpers shared by the TinyML course notebooks."""
