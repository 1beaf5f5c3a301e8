"""Signing in with a password, the same on /login/ and POST /api/v1/auth/token/ (README "Sign-in and lockout").

Failures are rows in the database, shared by every process. A sign-in is refused, without looking at the
password, while within the last LOGIN_LOCKOUT_MINUTES either LOGIN_FAILURE_LIMIT attempts failed for that
username from that address, or LOGIN_ADDRESS_FAILURE_LIMIT failed from that address whatever the username.
"""
import ipaddress
import math
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.utils import timezone
from django.utils.translation import ngettext

from .models import LoginFailure


class LockedOut(Exception):
    """Too many recent failures: `wait` seconds until the next attempt is looked at."""

    def __init__(self, wait: int):
        super().__init__(wait)
        self.wait = wait

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.wait / 60))
        return ngettext(
            "Too many failed sign-in attempts. For your security, wait %(minutes)d minute and try again.",
            "Too many failed sign-in attempts. For your security, wait %(minutes)d minutes and try again.",
            minutes,
        ) % {"minutes": minutes}


def sign_in(request, *, username: str, password: str):
    """The user these credentials authenticate, or None; raises LockedOut when locked (then or by this failure)."""
    name, address = username.strip().lower()[:150], _lockout_address(client_address(request))
    now = timezone.now()
    if wait := _wait(name, address, now):
        raise LockedOut(wait)
    # The attempt counts as a failure until the password proves right, so concurrent guesses (other
    # processes, other threads) see it: no more than the limit of passwords are ever checked.
    attempt = LoginFailure.objects.create(username=name, address=address, at=now)
    if wait := _wait(name, address, now, counting_mine=True):
        attempt.delete()
        raise LockedOut(wait)
    user = authenticate(request, username=username, password=password)
    if user is not None:
        LoginFailure.objects.filter(username=name, address=address).delete()  # success forgives this pair only
        return user
    LoginFailure.objects.filter(at__lte=now - _window()).delete()
    if wait := _wait(name, address, now):
        raise LockedOut(wait)  # this failure reached a limit: say so now rather than at the next attempt
    return None


def client_address(request) -> str:
    """REMOTE_ADDR; behind a trusted proxy (TRUSTED_PROXIES), the first address X-Forwarded-For names outside them."""
    remote = request.META.get("REMOTE_ADDR", "")
    if not _is_trusted(remote):
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):  # each proxy appends the peer it saw: read from ours outwards
        if not _is_trusted(hop):
            return hop if _ip(hop) else remote  # not an address: a proxy passed the client's header on as is
    return hops[0] if hops else remote


def _wait(name: str, address: str, now, *, counting_mine: bool = False) -> int:
    """Seconds until the pair and the address are both below their limits (0: they are now)."""
    window = _window()
    recent = LoginFailure.objects.filter(address=address, at__gt=now - window).order_by("-at")
    waits = [0]
    for rows, limit in (
        (recent.filter(username=name), settings.LOGIN_FAILURE_LIMIT),
        (recent, settings.LOGIN_ADDRESS_FAILURE_LIMIT),
    ):
        if limit > 0:
            nth = limit + counting_mine  # the failure that puts the count at the limit
            waits += [math.ceil((at + window - now).total_seconds()) for at in rows.values_list("at", flat=True)[nth - 1:nth]]
    return max(waits)


def _window() -> timedelta:
    return timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)


def _lockout_address(address: str) -> str:
    """The address failures are counted on: an IPv4 address, or an IPv6 address's /64 (one subscriber's network)."""
    ip = _ip(address)
    if ip is None:
        return address[:64]
    if ip.version == 6:
        if ip.ipv4_mapped:  # ::ffff:10.0.0.1 is 10.0.0.1
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _ip(text: str):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_trusted(address: str) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in network for network in settings.TRUSTED_PROXIES)
