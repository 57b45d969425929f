"""HTTP plumbing shared by every edge: the REST routes, the staff console, the
security and error middleware, and region adapters' callback routes."""
