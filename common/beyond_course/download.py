"""Downloads for a classroom: fail in seconds without network, say in one line what is used instead.

The course's calls download by themselves (``CIFAR10(..., download=True)``,
``vgg16(weights=...)``). Behind a firewall or on a dead network those hang for
minutes and end in a traceback. Wrapped in ``downloading(url)``, the server is
probed first (``PROBE_SECONDS``), a stalled transfer times out
(``DOWNLOAD_TIMEOUT`` per read), ``--offline`` skips the attempt, and
``fallback_note`` says once, in one line, why and what the lesson uses instead.
"""

import socket
import ssl
import threading
import urllib.error
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

from .. import paths
from ..errors import LessonError
from .lang import _

PROBE_SECONDS = 5  # how long we wait to find out whether the server answers at all
DOWNLOAD_TIMEOUT = 30  # socket timeout while downloading (per read, not in total)


class Offline(OSError):
    """--offline was given and the files are not on disk."""


def _probe(url, seconds):
    """None if a TCP connection to the URL's host opens within ``seconds``, else the reason.

    In a thread, because a broken DNS can block ``getaddrinfo`` far longer than
    any socket timeout. The URL's own port: a mirror (CIFAR10_URL) may be http:// or name one.
    """
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname, parts.port or (80 if parts.scheme == "http" else 443)
    result = {}

    def connect():
        try:
            socket.create_connection((host, port), timeout=seconds).close()
            result["ok"] = True
        except OSError as exc:
            result["error"] = exc

    t = threading.Thread(target=connect, daemon=True)
    t.start()
    t.join(seconds)
    if result.get("ok"):
        return None
    return result.get("error") or TimeoutError(f"no answer from {host} in {seconds} s")


@contextmanager
def downloading(url, offline=False, have=False, into=None):
    """Wrap a download the course makes (``CIFAR10(download=True)``, ``vgg16(weights=...)``).

    ``have``: the files are already on disk, so no network is needed. Otherwise
    ``offline`` raises ``Offline`` at once, a folder ``into`` that cannot be
    written is a one-line error, a server that does not answer within
    PROBE_SECONDS raises OSError at once, and a stalled download times out.
    """
    if not have:
        if offline:
            raise Offline("--offline")
        if into is not None:
            try:
                paths.check_dir(into)
            except LessonError as exc:
                raise LessonError(
                    _("cannot download {name}: {problem}, or pass --offline to skip the download").format(
                        name=url.rsplit("/", 1)[-1], problem=exc
                    )
                ) from None
        problem = _probe(url, PROBE_SECONDS)
        if problem is not None:
            raise problem
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def why_not(exc):
    """A download failure in a learner's words."""
    if isinstance(exc, socket.gaierror) or "Name or service not known" in str(exc) or "name resolution" in str(exc):
        return _("no network")
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return _("no answer from the server")
    if isinstance(exc, urllib.error.HTTPError):
        return _("the server answered HTTP {code}").format(code=exc.code)
    if isinstance(exc, ssl.SSLError) or "CERTIFICATE" in str(exc):
        return _("the secure connection failed: a proxy or firewall?")
    if isinstance(exc, (ConnectionError, urllib.error.URLError)):
        return _("the server could not be reached")
    if isinstance(exc, RuntimeError):  # torchvision: "File not found or corrupted." after a download
        return _("the download was incomplete or damaged")
    return f"{type(exc).__name__}: {str(exc)[:80]}"


_said = set()


def say_once(line):
    """Print ``line`` unless this process printed it before (two datasets, one fallback)."""
    if line not in _said:
        _said.add(line)
        print(line, flush=True)


def fallback_note(what, exc, instead, how_to):
    """Say once per run, in one line, that ``what`` is not available and what the run uses instead."""
    if isinstance(exc, Offline):
        say_once(
            _("{what}: not on disk (--offline) -> {instead}. {how_to}").format(
                what=what, instead=instead, how_to=how_to
            )
        )
    else:
        say_once(
            _(
                "could not download {what} ({why}) -> {instead}. {how_to}; --offline skips this attempt next time"
            ).format(what=what, why=why_not(exc), instead=instead, how_to=how_to)
        )


def hub_weights(weights, fetch=False, model=None):
    """A torchvision ``weights``' state_dict from torch.hub's cache, ``fetch``: downloaded into it if missing
    (its hash checked), read with weights_only=True and, with ``model``, loaded into it (strict=True).
    None, said in one line, when the file is not there, cannot be downloaded or does not fit."""
    import torch  # (this module is also imported where torch is not needed)

    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if not cached.is_file() and not fetch:
        print(
            _("ImageNet weights: not in {folder}; --pretrained downloads them ({url})").format(
                folder=cached.parent, url=weights.url
            ),
            flush=True,
        )
        return None
    try:
        with downloading(weights.url, have=cached.is_file()):
            state = torch.hub.load_state_dict_from_url(weights.url, progress=False, check_hash=True, weights_only=True)
        if model is not None:
            model.load_state_dict(state, strict=True)
        return state
    except Exception as exc:  # no network, a damaged or foreign file in the cache ...
        if cached.is_file():
            print(
                _("{path} is not a usable weights file for this model ({problem}): delete it and run again").format(
                    path=cached, problem=type(exc).__name__
                ),
                flush=True,
            )
        else:
            print(
                _("could not download the ImageNet weights ({why}): to use them, put {url} at {path}").format(
                    why=why_not(exc), url=weights.url, path=cached
                ),
                flush=True,
            )
        return None
