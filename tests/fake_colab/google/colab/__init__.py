"""A stand-in for Colab's ``google.colab`` package, for running the notebook headlessly.

``google`` stays a namespace package (no ``__init__.py``) so that ``google.protobuf`` still
imports next to it. Set FAKE_COLAB_LOG to a file: every call is appended to it as a JSON line.
"""
import json
import os


def _record(call, **details):
    with open(os.environ["FAKE_COLAB_LOG"], "a", encoding="utf-8") as f:
        f.write(json.dumps({"call": call, **details}) + "\n")
