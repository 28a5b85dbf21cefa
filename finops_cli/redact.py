"""Secret masking shared by settings descriptions, HTTP errors, debug logs and webhooks.

One module so that every place that prints a URL or echoes server text hides the same things:
the userinfo of any URL (``user:password@``), its query string (``?apikey=...``) and any known
secret value a server may echo back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
MIN_SECRET_LENGTH = 4  # masking 1-3 character "secrets" would shred every message

# Patterns, compiled on first use by ``re``'s own cache (error and debug paths only).
# scheme://user[:password]@host inside free text (an error message, a log line)
_USERINFO_IN_TEXT = r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@"
# scheme://host/path?query inside free text: the query (an API key, a signature) goes
_QUERY_IN_TEXT = r"(?P<url>[A-Za-z][A-Za-z0-9+.-]*://[^\s?#]*)\?[^\s#]+"


def mask_url(url: str) -> str:
    """The URL with its userinfo and query replaced by ``***``; host, port and path kept.

    The path is kept because it tells the user which endpoint was meant; a webhook URL whose
    path is the key (Slack) is masked with ``mask_text(..., secrets=[path])`` by its caller.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return mask_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = MASK if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret, and the userinfo and query of every URL in it, replaced
    by ``***``: an httpx error or a server page may repeat the URL that was asked."""
    longest_first = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len)[::-1]
    for secret in longest_first:
        text = text.replace(secret, MASK)
    text = re.sub(_USERINFO_IN_TEXT, lambda m: f"{m['scheme']}{MASK}@", text)
    return re.sub(_QUERY_IN_TEXT, lambda m: f"{m['url']}?{MASK}", text)
