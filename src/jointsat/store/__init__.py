"""Keep the consortium's state: SQLAlchemy tables, engines and Alembic migrations."""
