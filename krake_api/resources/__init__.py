"""Generic resource handling: verbs, validation, selectors, pagination."""
