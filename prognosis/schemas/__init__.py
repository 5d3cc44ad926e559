"""JSON Schemas of what prognosis writes (``results.schema.json``) and their reference page."""
