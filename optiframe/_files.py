"""Where an export writes and a loader reads: a path, or an open text file."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

#: a path, or an open text file (anything with ``write``; ``read`` for a source)
Target = str | Path | IO[str]


def write_text(target: Target | None, text: str) -> None:
    """``text`` into ``target`` (nothing for None): a file object gets ``write``, a path
    the whole file.

    >>> import io
    >>> buf = io.StringIO(); write_text(buf, "a,b\\n"); buf.getvalue()
    'a,b\\n'
    """
    if target is None:
        return
    if hasattr(target, "write"):
        target.write(text)
    else:
        Path(target).write_text(text)


def read_text(source: Any, is_text: bool) -> str:
    """The text of ``source``: itself where ``is_text`` (the document as a string), an
    open file's ``read()``, or a path's contents."""
    if is_text:
        return str(source)
    if hasattr(source, "read"):
        return str(source.read())
    return Path(source).read_text()


def write_csv(target: Target | None, header: Iterable[Any], rows: Iterable[Iterable[Any]],
              ) -> str:
    """The CSV text of ``header`` and ``rows`` (cells as given), written to ``target``
    when given (see :func:`write_text`); returns the text.

    >>> write_csv(None, ["a", "b"], [[1, repr(0.1)]])
    'a,b\\n1,0.1\\n'
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    text = buf.getvalue()
    write_text(target, text)
    return text


def plain(value: Any) -> Any:
    """``value`` as standard JSON holds it: arrays and numpy numbers as lists and Python
    numbers, a non-finite float as its string (``"nan"``, ``"inf"``, ``"-inf"``: JSON
    has none), dicts and lists item by item.

    >>> import numpy as np
    >>> plain({"x": np.array([1.0, np.inf]), "n": np.int64(3), "f": float("nan")})
    {'x': [1.0, 'inf'], 'n': 3, 'f': 'nan'}
    """
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()  # (a numpy array or number)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
