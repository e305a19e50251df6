"""Answers are strict JSON: NaN and infinity become null wherever they sit, words that are not
valid UTF-8 (a lone surrogate) are escaped, and everything else is encoded as it is."""

from __future__ import annotations

import json
import math

from werkzeug.test import Client

from tensorboard_plugin_w2v.server import http


def answer(reply: dict) -> tuple[int, bytes]:
    response = Client(http.json_route(lambda args: reply)).get("/")
    return response.status_code, response.get_data()


def test_non_finite_numbers_become_null_at_any_depth():
    status, body = answer({"a": math.nan, "b": [1.5, math.inf, {"c": -math.inf, "d": (2.0, math.nan)}]})
    assert status == 200
    assert json.loads(body) == {"a": None, "b": [1.5, None, {"c": None, "d": [2.0, None]}]}


def test_plain_answers_are_encoded_unchanged_in_utf8():
    reply = {"word": "café", "neighbors": [{"word": "naïve", "similarity": 0.8236}], "exact": True}
    status, body = answer(reply)
    assert status == 200
    assert "café".encode() in body
    assert json.loads(body) == reply


def test_a_lone_surrogate_is_escaped_and_non_finite_numbers_still_become_null():
    status, body = answer({"word": "a\udcffb", "similarity": math.nan})
    assert status == 200
    assert b"\\udcff" in body
    assert json.loads(body) == {"word": "a\udcffb", "similarity": None}
