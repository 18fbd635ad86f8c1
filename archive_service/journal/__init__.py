"""The journal export format: types, parsing and validation. Knows nothing of other rooms."""
