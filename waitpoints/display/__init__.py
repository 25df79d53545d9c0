"""How a token reads to people: its context as labelled, formatted fields (with the creator's
display hints), and its audit trail as sentences. Shared by the dashboard and the approval emails
(docs/architecture.md, "Readable context"); no models, no templates."""
