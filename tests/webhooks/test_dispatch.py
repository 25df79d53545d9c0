"""How the delivery messages go out: one for a single delivery, chunks that a worker fans out
for several (so a completion with several endpoints publishes one message on its request)."""

from unittest import mock

from waitpoints.celery_tasks import dispatch_webhooks
from waitpoints.webhooks import events


def _published(call) -> list:
    with mock.patch.object(events.current_app, "send_task") as send_task:
        call()
    return [(c.args[0], c.kwargs["args"][0]) for c in send_task.call_args_list]


def test_one_delivery_is_one_message():
    assert _published(lambda: events.send(["msg_1"])) == [(events.DELIVER_WEBHOOK_TASK, "msg_1")]


def test_several_deliveries_are_one_chunk_message_per_250():
    ids = [f"msg_{n}" for n in range(600)]
    sent = _published(lambda: events.send(ids))
    assert [name for name, _ in sent] == [events.DISPATCH_WEBHOOKS_TASK] * 3
    assert [chunk for _, chunk in sent] == [ids[:250], ids[250:500], ids[500:]]


def test_the_worker_fans_a_chunk_out_without_chunking_it_again():
    ids = [f"msg_{n}" for n in range(250)]
    sent = _published(lambda: dispatch_webhooks(ids))
    assert sent == [(events.DELIVER_WEBHOOK_TASK, delivery_id) for delivery_id in ids]
