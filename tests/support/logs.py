"""Catch error-level log records of an in-process server, uvicorn's included.

uvicorn's own loggers do not propagate to the root logger (its dictConfig sets ``propagate: False``
on ``uvicorn``), so pytest's ``caplog`` misses "Exception in ASGI application"; this handler sits on
both.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

WATCHED = ("", "uvicorn")


class ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not any(r is record for r in self.records):  # seen twice when uvicorn's loggers propagate
            self.records.append(record)

    def lines(self) -> list[str]:
        out = []
        for record in self.records:
            text = f"{record.levelname} {record.name}: {record.getMessage()}"
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            out.append(text)
        return out


@contextmanager
def error_records() -> Iterator[ErrorRecords]:
    """Records at ERROR or above logged anywhere while the block runs."""
    handler = ErrorRecords()
    loggers = [logging.getLogger(name) for name in WATCHED]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
