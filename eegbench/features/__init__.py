"""Features derived from the cached windows (computed once per dataset, cached on disk)."""
