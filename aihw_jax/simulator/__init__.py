"""The analog simulator: configs, tile operations and device models."""
