"""callwatch application layer: settings, bootstrap, command line, local services."""
