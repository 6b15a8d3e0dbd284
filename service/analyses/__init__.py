"""The analysis domain: models, states, queries and flows."""
