"""Data files of the built-in offline datasets (see README.md here for provenance and licences)."""
