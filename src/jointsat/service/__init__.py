"""Serve the consortium over HTTP: ``create_app(settings)`` builds the FastAPI app."""
