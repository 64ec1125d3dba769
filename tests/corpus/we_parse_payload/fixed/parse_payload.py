"""Webhook payload parsing."""

import json


def parse_payload(body):
    """The decoded JSON object of a webhook body, or {"error": "invalid json"}."""
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        return {"error": "invalid json"}
