"""Parse one JSON payload into plain data for the page, inside the parse worker (docs/design.md R10).

``worker.mjs`` calls ``parse_or_error(text)`` for every request: it returns the payload as msgpack
``bytes`` (the worker posts them as a transferred ``Uint8Array``; the page turns them into its typed
structs with ``oddsui.messages.decode_packed``), a ``str`` saying why the text is not valid JSON (the
sender's fault; the page counts it as a decode error), or ``None`` for valid JSON that msgpack cannot
carry (an integer beyond 64 bits; the page then parses that one itself). Anything else it raises is
a bug here.
Pure: no ``js``, no I/O; runs on CPython 3.11 (tests) and on Pyodide's Python 3.14.

Why msgpack bytes (measured in this repo: Chromium 156, Pyodide 314.0.7, msgspec 0.22, 2 cores;
medians of 5 runs; ms on the *main* thread unless marked; the 259 KB payload is the simulator's real
prematch Football ``games`` list, 883 games; 1 MB and 10 MB are the same games repeated)::

                                                        259 KB     1 MB     10 MB
    JS string -> Python str (reading event.data)       1.0-1.6   3.5-4.0   33-60
    msgspec JSON -> typed structs (the sync path)          1.2       4.2      33
    postMessage(text) to the worker                        0.2       0.8     4.2
    msgpack -> typed structs (this module's answer)        1.2       5.4      35
    Uint8Array -> bytes                                    0.0       0.1     0.5
    to_js answer instead: structuredClone + to_py
      + msgspec.convert                                   11.4        40     302
    in the worker: JSON decode + msgpack encode            6.4        19     127   (off the main thread)
    worker round trip (post to answer)                     8.4        22     138

* A JS object answer (``to_js`` here, structured clone to the page, ``to_py`` there) costs the main
  thread 5-9x more than parsing the text there in the first place: rejected.
* The Python objects the page needs can only be built on the page's own interpreter, and building
  them is most of the cost: msgpack -> structs costs the same as JSON -> structs. What the worker
  saves the main thread is reading the text into Python (which is why the page posts the event's
  text to the worker without ever converting it) and the JSON scan. Main-thread total per payload:
  sync 2.2-2.8 / 7.7-8.2 / 66-93 ms; through the worker 1.4 / 6.3 / 39 ms.
* msgpack keeps exactly JSON's data model (str, int, float, bool, None, list, map), so
  ``decode_packed(parse(text))`` equals ``decode(text)`` for every payload (tested under CPython),
  and the bytes travel as a transferred buffer, never copied by the structured clone.

In the running app (prematch Football, worker already booted; Long Tasks API, tasks over 50 ms;
1 MB and 10 MB lists served through a mocked stream), main-thread ms::

                                                  259 KB         1 MB            10 MB
    sync: read + parse on the main thread           6-9          29-45          172-204
          task holding it (parse + apply)        not long        68-70          255-332
    worker: decode of the answer                    1.3-5          6-9            51-62
          task holding it (decode + apply)       not long       not long        114-134
    long tasks while the worker parsed              none           none      (none but the
                                                                               browser's own
                                                                               10 MB SSE read)

So at the simulator's real sizes the parse is not what blocks the page: the long tasks after a big
list (80-165 ms each) are the first render frames (render.MAX_NEW_ROWS_PER_PASS rows per frame).
The worker takes the parse out of the picture from about 1 MB up, and halves it at 10 MB.
"""

from __future__ import annotations

import msgspec

__all__ = ["ParseError", "Unsupported", "parse", "parse_or_error"]

_JSON = msgspec.json.Decoder()  # untyped: plain dicts, lists, str, int, float, bool, None
_MSGPACK = msgspec.msgpack.Encoder()


class ParseError(ValueError):
    """The text is not valid JSON (the sender's fault)."""


class Unsupported(ValueError):
    """Valid JSON that msgpack cannot carry (an integer beyond 64 bits): parse it elsewhere."""


def parse(text: str | bytes) -> bytes:
    """The JSON ``text`` as msgpack bytes of the same value; raise ``ParseError`` or ``Unsupported``."""
    try:
        value = _JSON.decode(text)
    except msgspec.DecodeError as exc:  # ValidationError (a number out of range) included
        raise ParseError(f"invalid JSON: {exc}") from exc
    try:
        return _MSGPACK.encode(value)
    except (OverflowError, msgspec.EncodeError) as exc:
        raise Unsupported(str(exc)) from exc


def parse_or_error(text: str | bytes) -> bytes | str | None:
    """What worker.mjs calls: ``parse(text)``, the ``ParseError`` message, or None if unsupported."""
    try:
        return parse(text)
    except ParseError as exc:
        return str(exc)
    except Unsupported:
        return None
