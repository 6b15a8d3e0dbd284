"""Use cases of the face galleries API: Valossa first, then the mirror (request transaction)."""
