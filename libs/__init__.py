"""Shared building blocks of every Omnigate service: nothing service-specific lives here."""
