"""The knowledge base: YAML catalogs (models, accelerators, precisions, runtimes, policy, sources) and their loader."""
