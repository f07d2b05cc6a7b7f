"""Config: finding, parsing and validating a project's platform config."""
