"""The emulator's conformance suite, built from the OpenAPI document and the developer reference.

``cases`` holds the tables (which endpoints are not served yet, where path parameters and body
fields come from, which request causes which event); ``builder`` turns the document's schemas into
requests; ``harness`` sends them to a running emulator, checks the envelope and keeps the score.
tests/test_conformance.py drives generic checks over every operation from these.
"""
