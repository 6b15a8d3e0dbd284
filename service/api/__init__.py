"""HTTP layer: routers only; flows do the work."""
