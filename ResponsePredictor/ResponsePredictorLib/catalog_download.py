"""Downloading a model's weights: checked against the catalog's size and sha256, written atomically.

The bytes go to a temporary file beside the target; only a complete file with the expected
checksum is renamed to the target's name. Every failure says what went wrong (no network, an HTTP
error, a cut transfer, a wrong file) and ends with the caller's advice (how to import the file on
a computer without internet).
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import urllib.error
import urllib.request
from pathlib import Path

from .catalog_cache import unwritable
from .files import atomic_file
from .errors import InputError

DEFAULT_TIMEOUT_S = 30.0
_CHUNK_BYTES = 1 << 16


class DownloadError(InputError):
    """Weights that could not be downloaded, or whose download was not the published file."""


def download_file(
    url: str, target: Path, *, sha256: str, size: int, timeout: float = DEFAULT_TIMEOUT_S, advice: str = ""
) -> Path:
    """``target`` holding the ``size`` bytes at ``url`` whose digest is ``sha256``; nothing there on failure."""

    def failure(reason: str) -> DownloadError:
        return DownloadError(f"Downloading {url} failed: {reason}. Nothing was kept. {advice}".rstrip())

    received = 0
    digest = hashlib.sha256()
    try:
        with atomic_file(target) as partial:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
                announced = response.headers.get("Content-Length", "")
                if announced.isdigit() and int(announced) != size:
                    raise failure(f"the server offers {announced} bytes where the catalog expects {size}: "
                                  "it is not the published file")
                while chunk := response.read(_CHUNK_BYTES):
                    received += len(chunk)
                    if received > size:  # stop early rather than fill the disk with the wrong file
                        raise failure(f"the server sent more than the {size} bytes expected: "
                                      "it is not the published file")
                    digest.update(chunk)
                    out.write(chunk)
            if received < size:
                raise failure(f"the transfer was interrupted after {received} of {size} bytes")
            if digest.hexdigest() != sha256:
                raise failure(f"the file's sha256 is {digest.hexdigest()} where the catalog expects {sha256}: "
                              "it is damaged or not the published file")
    except DownloadError:
        raise
    except urllib.error.HTTPError as error:
        raise failure(f"the server answered HTTP {error.code} ({error.reason})") from None
    except urllib.error.URLError as error:
        raise failure(_unreachable(error.reason, timeout)) from None
    except TimeoutError:
        raise failure(f"no data from the server for {timeout:g} s (after {received} of {size} bytes)") from None
    except (ConnectionError, http.client.HTTPException) as error:
        raise failure(f"the connection broke after {received} of {size} bytes ({type(error).__name__})") from None
    except OSError as error:  # the cache folder, not the network: it cannot be created or written
        raise unwritable(target.parent, error) from None
    return target


def _unreachable(reason: object, timeout: float) -> str:
    if isinstance(reason, TimeoutError):
        return f"no answer from the server within {timeout:g} s"
    if isinstance(reason, socket.gaierror):
        return f"the server's name cannot be resolved ({reason.strerror}): this computer seems to be offline"
    detail = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
    return f"the server cannot be reached ({detail}): this computer may be offline or the server down"
