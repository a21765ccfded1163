"""The one exception type users see for bad input: config, data, or a run request."""


class ConfigError(ValueError):
    """Raised for an invalid configuration, with a message that says what to change."""
