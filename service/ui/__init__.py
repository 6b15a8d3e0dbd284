"""The operator page at /ui: server-rendered templates, signed sessions, CSRF-checked forms."""
