"""The PostgreSQL backend (SPEC §9): many hosts, one database.

`queries` (every statement, named, from queries.sql), `migrate` (the versioned
schema), `connector` (a pool, reconnection, the database's health), `listener`
(LISTEN/NOTIFY wake-ups with a polling fallback), `backend` (the handoff's
transitions, each one transaction).
"""
