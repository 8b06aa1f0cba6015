"""Thin clients for the outside world (Twilio, LLM providers).

Nothing here imports a Django app or a model: callers hand in plain values and get
frozen dataclasses back, so SDK types never leak into the domain and tests can swap
the transport instead of our code.
"""
