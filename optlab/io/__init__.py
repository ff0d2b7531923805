"""Tables and files: Trace arrays -> tidy DataFrames -> CSV/PNG/JSON. No JAX here."""
