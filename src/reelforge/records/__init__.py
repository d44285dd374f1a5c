"""Production records: versions of every entity and asset, and the tamper-evident change log."""
