"""ktrain's Hydra plugin: a user's config folder first on the search path."""
