"""The one error ingest reports per file: a sentence a user can act on."""

from __future__ import annotations


class IngestError(Exception):
    """This input cannot be ingested; the message is one sentence naming the file."""
