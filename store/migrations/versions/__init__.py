"""Migration scripts, oldest first; a package so that an installed impactlens ships them."""
