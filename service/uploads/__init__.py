"""Direct uploads: a client sends a file in chunks through us, straight into Valossa's chunked
upload, and gets a valossaupload:// URL for POST /v1/analyses (nothing stored but the
bookkeeping)."""
