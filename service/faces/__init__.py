"""Face galleries: Valossa's Training API behind our auth, with a mirror in our database.

Valossa is the source of truth. Every change is made at Valossa first and recorded here only
once Valossa has accepted it; `valossa-ingest faces sync` repairs whatever drifted.
"""
