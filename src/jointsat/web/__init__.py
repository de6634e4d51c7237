"""Hold the web assets the service serves, bundled so that nothing comes from a CDN."""
