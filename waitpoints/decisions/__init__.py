"""A token's response contract: what a person may answer (options, a form) and what the deadline
answers (`timeoutOutput`); docs/architecture.md, "Decisions". Pure functions, no tables."""
