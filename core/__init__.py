"""The shared kernel under every app: domain errors and value rules (phone numbers, time)."""
