"""The one place that hides secrets in text meant for people, logs and run records.

A URL may carry a user and password (``http://admin:secret@host:8090``); wherever such a URL could be shown it
goes through :func:`redact` first, which keeps the scheme, host, port and path and replaces the user information
with ``***``::

    >>> redact("PocketBase at http://admin:secret@host:8090 did not answer")
    'PocketBase at http://***@host:8090 did not answer'
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# scheme://userinfo@ — userinfo is anything up to the last "@" before the host, without "/", whitespace or quotes.
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^\s/?#@'\"<>]+)@")


def redact(text: str) -> str:
    """``text`` with the user information of every URL in it replaced by ``***``."""
    return _USERINFO.sub(lambda match: f"{match['scheme']}***@", text)


def has_userinfo(url: str) -> bool:
    """Whether ``url`` carries a user name or password."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "@" in url
    return parts.username is not None or parts.password is not None
