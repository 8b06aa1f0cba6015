"""Twilio ConversationRelay: the call's second transport, a WebSocket per call (ADR 0017).

The same engine as the ``<Gather>`` webhooks (context, provider, actions, stored transcript),
with the reply streamed as text tokens while the provider writes it. ``protocol`` parses and
builds the messages, ``handshake`` checks Twilio's signature, ``streaming`` cuts text where
speech can pause, ``turn`` is the engine side of one prompt, ``consumer`` the socket.
"""
