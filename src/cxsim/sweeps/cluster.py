"""Reaching a Dask scheduler: an address of the right form, and a scheduler that answers in time.

``cxsim sweep --scheduler ADDRESS`` first checks the address's form
(:func:`check_address`: ``tcp://HOST:PORT``, ``tls://``, ``ws://``, ``wss://``, or
``HOST:PORT``), so a typo is one line and exit 2 before anything else happens. It
then asks whatever listens there who it is (:func:`probe`), under a deadline
of its own, before a :class:`distributed.Client` is made: Dask's own connect
waits for ever on a port that accepts and never answers, and reads a banner
(``SSH-2.0-...``) or an HTTP reply as the length of a message, trying to
allocate exabytes. Every way of not reaching a scheduler ends within the
connect timeout as one :class:`SchedulerUnreachableError` line naming the
address (exit 1).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from cxsim.errors import InputError

#: Seconds to wait for a scheduler to answer (``--connect-timeout``).
CONNECT_TIMEOUT = 10.0
#: Address schemes of Dask's comms that ``cxsim sweep`` can reach (no scheme: ``tcp``).
SCHEMES = ("tcp", "tls", "ws", "wss")
_FORMS = "tcp://HOST:PORT, tls://HOST:PORT, ws://HOST:PORT, wss://HOST:PORT or HOST:PORT"


class SchedulerAddressError(InputError):
    """A ``--scheduler`` address of the wrong form (exit 2)."""


class SchedulerUnreachableError(RuntimeError):
    """No Dask scheduler answered at a well-formed address (exit 1)."""


class DaskMissingError(ImportError):
    """``distributed`` is not installed (``pip install 'cxsim[distributed]'``)."""


def check_address(address: str) -> str:
    """The address with its scheme (``HOST:PORT`` -> ``tcp://HOST:PORT``).

    Raises:
        SchedulerAddressError: one line naming the address and the forms expected.

    """
    where = f"--scheduler {address}"
    scheme, sep, rest = address.strip().partition("://")
    if not sep:
        scheme, rest = "tcp", address.strip()
    if scheme not in SCHEMES:
        raise SchedulerAddressError(
            f"{where}: unknown scheme {scheme + '://'!r}; expected {_FORMS}"
        )
    host, colon, port = rest.rpartition(":")
    if not colon:
        raise SchedulerAddressError(f"{where}: no port; expected {_FORMS}")
    bare_host = host[1:-1] if host.startswith("[") and host.endswith("]") else host  # [::1]
    if not bare_host or any(c in bare_host for c in "/?#@ []"):
        raise SchedulerAddressError(f"{where}: no host name before :{port}; expected {_FORMS}")
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise SchedulerAddressError(
            f"{where}: the port must be a number from 1 to 65535, got {port!r}"
        )
    return f"{scheme}://{host}:{int(port)}"


#: Share of the timeout Dask's connect may spend retrying a refused connection (a scheduler
#: still starting), so that its error, which says the connection was refused, comes well
#: before the probe's own deadline.
_CONNECT_SHARE = 0.5


async def _identity(address: str, timeout: float, connection_args: dict[str, Any]) -> Any:
    """Connect to ``address`` with Dask's comms and ask ``identity``; the reply."""
    from distributed.comm import connect
    from distributed.core import send_recv

    comm = await connect(address, timeout=_CONNECT_SHARE * timeout, **connection_args)
    try:
        return await send_recv(comm, op="identity")
    finally:
        comm.abort()


def _words(err: BaseException) -> str:
    """An error and its cause in one line (Dask's 'Timed out' hides 'Connection refused')."""
    text = " ".join(str(err).split()) or type(err).__name__
    cause = err.__cause__ or err.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text += f" ({' '.join(str(cause).split())})"
    return re.sub(r"in <[^>]*>: ", "", text)  # Dask names its connector object


def probe(
    address: str, timeout: float = CONNECT_TIMEOUT, *, label: str | None = None
) -> dict[str, Any]:
    """What a Dask scheduler at ``address`` says of itself, asked within ``timeout`` seconds.

    Args:
        address: a checked address (:func:`check_address`).
        timeout: seconds before giving up, whatever listens there.
        label: how messages name the address (default: ``address``).

    Raises:
        SchedulerUnreachableError: nothing listens, nothing answers in time, or what answers
            is not a Dask scheduler; one line naming the address.

    """
    # Imported before the clock starts (the first import takes a second or two); used by _identity.
    import distributed.comm
    import distributed.core  # noqa: F401
    from distributed.security import Security

    where = f"--scheduler {label or address}"
    args = Security().get_connection_args("client")  # the user's TLS settings, if any
    try:
        reply = asyncio.run(asyncio.wait_for(_identity(address, timeout, args), timeout))
    except TimeoutError:
        raise SchedulerUnreachableError(
            f"{where}: no Dask scheduler answered within {timeout:g} s (something accepts "
            "connections there without answering; is it the scheduler's address and port?)"
        ) from None
    except OSError as err:  # refused, unreachable, reset; Dask's CommClosedError is one too
        raise SchedulerUnreachableError(f"{where}: cannot connect: {_words(err)}") from None
    except Exception:
        # What answered does not speak Dask's protocol: its first bytes read as an absurd
        # message length (MemoryError), or as undecodable frames (ValueError, msgpack's errors).
        raise SchedulerUnreachableError(
            f"{where}: something answered, but not in Dask's protocol (an HTTP server or "
            "another service? a Dask scheduler listens on port 8786 unless told otherwise)"
        ) from None
    kind = reply.get("type") if isinstance(reply, dict) else None
    if kind != "Scheduler":
        raise SchedulerUnreachableError(
            f"{where}: a Dask {kind or 'service'} answered, not a scheduler; give the "
            "scheduler's address (dask scheduler prints it)"
        )
    return reply


def connect(address: str, timeout: float = CONNECT_TIMEOUT) -> Any:
    """A :class:`distributed.Client` of the scheduler at ``address``, or one line why not.

    Raises:
        SchedulerAddressError: the address is of the wrong form.
        DaskMissingError: ``distributed`` is not installed.
        SchedulerUnreachableError: no Dask scheduler answered there within ``timeout`` seconds.

    """
    label, address = address, check_address(address)
    try:
        from distributed import Client
    except ImportError:
        raise DaskMissingError(
            f"--scheduler {label}: Dask is not installed; pip install 'cxsim[distributed]'"
        ) from None
    probe(address, timeout, label=label)
    try:
        return Client(address, timeout=f"{timeout}s")
    except Exception as err:  # a scheduler that answered the probe, then failed the client
        raise SchedulerUnreachableError(
            f"--scheduler {label}: cannot start a client: {_words(err)}"
        ) from None
