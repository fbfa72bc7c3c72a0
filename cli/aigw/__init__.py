"""aigw: compile an AI-provider catalog into per-service configuration."""

__version__ = "0.1.0"
