"""State changes of runs, each module one concern (docs/architecture.md, "Runs").

Every write an executing run makes is *fenced*: it only applies while the run is still EXECUTING
under the lease this execution claimed (`lease_expires_at` doubles as the fencing token). A
duplicate execution, a run canceled meanwhile, or one taken over by the stalled-run sweeper loses
its fence at its next durable call and stops (`RunLeaseLost`).

Lock order is always waitpoint row, then run row (as in `token_complete`), so a run blocking on a
token and a completer of that token never deadlock.
"""
