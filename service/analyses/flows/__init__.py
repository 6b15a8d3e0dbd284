"""API use cases: what a CMS request does, in one transaction the HTTP layer commits."""
