"""The SQLite database of record."""
