"""Executing a run: replay its function from the top, answering durable calls from the journal.

Each durable call (`create_token`, `for_token`, `step`, `for_`/`until`) takes the next sequence
number. If the journal holds that number, the recorded result is returned (after checking that the
call is the same kind); otherwise the call acts, and records its result. `for_token` on a waitpoint
that is still waiting records a block, sets the run WAITING and raises `Suspend`: the Celery task
returns, and no worker process or thread is held until a completion enqueues the run again.

`context` holds the run being executed, `calls` the durable calls the `wait` verbs delegate to,
`outputs` what `for_token` returns, `execute` the entry point of the Celery task.
"""
