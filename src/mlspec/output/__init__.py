"""Output stage: deterministic serialisation and the all-or-nothing tree writer."""
