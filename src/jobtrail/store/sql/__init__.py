"""SQLite and PostgreSQL through one SQLAlchemy Core implementation."""
