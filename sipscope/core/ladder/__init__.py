"""ladder package."""
