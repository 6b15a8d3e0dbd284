"""A local, faithful Valossa (Core + Training API) with fault injection, for tests and benches."""
