"""The exception types users see: bad input (config, data, a run request), and results
that are missing or damaged (what to make or remake is in the message)."""


class ConfigError(ValueError):
    """Raised for an invalid configuration, with a message that says what to change."""


class MissingResults(ConfigError):
    """A run's or a summary's files are missing or damaged: the message says which step
    makes them. A ConfigError too, so the CLI reports it the same way (no traceback)."""
