"""The registered analysis pipelines: name, version, parameters, product kinds."""
