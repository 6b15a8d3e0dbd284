"""valossa-ingest: CMS media -> Valossa analysis -> metadata in Postgres."""
