"""Process plumbing: serving, health probes, dev mode, the embedded database, start-up checks."""
