"""SQLModel tables and the queries on them, one module per aggregate."""
