"""Schemathesis hooks for lambdas/local/tests/it/schemathesis.rs.

Generated Idempotency-Key values repeat (Hypothesis reuses small strings on purpose), and a
repeated key rightly replays the first answer: the stateful phase then took an event created,
deleted and "created" again by the replay for a resource that vanished. Valid keys are made
unique; invalid ones are kept, so their refusal is still tested. api.rs tests the replays.
"""

import re
import uuid

import schemathesis

VALID_KEY = re.compile(r"^[!-~]{1,255}$")


@schemathesis.hook
def map_headers(ctx, headers):
    if headers:
        for name in list(headers):
            value = headers[name]
            if name.lower() == "idempotency-key" and isinstance(value, str) and VALID_KEY.match(value):
                headers[name] = str(uuid.uuid4())
    return headers
