"""The register's schema revisions, oldest first: 0001 (one episode per case), 0002 (episodes)."""
