"""The `llm` strategy's hard budgets, shared by every instance on one state root.

`[llm] max_requests_per_hour` (UTC clock hours) and `max_tokens_per_day` (UTC days)
hold across instances and processes because every request is *reserved before it is
sent* and admitted only against the reservations made before it:

- A reservation is a *slot*: the file `llm/ledger/<YYYY-MM-DD>/<NNNNNNNN>` (eight
  digits), made whole in a temporary file and hard-linked into place. `link()` is
  atomic and fails when the name exists, so every slot number is won by exactly one
  request, and slots are won in order without gaps (each request starts at the count
  it sees and tries the next number until one is free).
- The slot holds the request's hour and its token *estimate*, an upper bound of what
  it can cost (see `repair.llm_client.estimate_tokens`). The request is admitted when
  the slots before its own, counted at their estimate until their reply is settled,
  leave room for it; else it writes `<NNNNNNNN>.refused` and is not sent. Slot `n`
  decides only from slots `< n`, whose content never changes except to settle lower:
  two instances can never both take the last unit of budget.
- After the reply, `<NNNNNNNN>.used` records the tokens the endpoint reported. A
  request that never settles (its instance died mid-request) keeps costing its
  estimate for the day: the budget errs on the side of spending less.

Days older than `KEEP_DAYS` are removed as new ones begin. `BudgetLedger` is the
small interface a PostgreSQL backend implements later (one row per slot, the same
rule in one transaction).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Protocol

import msgspec

from repairlab.errors import RepairlabError

KEEP_DAYS = 3
SLOT_DIGITS = 8


class BudgetSpent(RepairlabError):
    """A request was refused before it was sent: the hour's requests or the day's
    tokens are spent. The message says which, with the numbers."""


class Reservation(msgspec.Struct, frozen=True, kw_only=True):
    """One admitted request: its day, its slot and its estimate."""

    day: str
    slot: int
    estimate: int


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    """What the budgets hold now (for `status`)."""

    requests_this_hour: int
    max_requests_per_hour: int
    tokens_today: int
    max_tokens_per_day: int


class BudgetLedger(Protocol):
    """Reserve before asking, settle after the reply."""

    def reserve(self, estimate: int, now: float | None = None) -> Reservation:
        """Admit one request costing at most `estimate` tokens, or raise BudgetSpent."""
        ...

    def settle(self, reservation: Reservation, tokens_in: int, tokens_out: int) -> None:
        """Record what the request really cost (0, 0 when it got no reply)."""
        ...

    def usage(self, now: float | None = None) -> Usage:
        """Requests this hour and tokens today, as the next reservation would count them."""
        ...


class _Slot(msgspec.Struct, kw_only=True):
    hour: str
    estimate: int
    instance: str = ""


class _Used(msgspec.Struct, kw_only=True):
    tokens_in: int
    tokens_out: int


_slot_decoder = msgspec.json.Decoder(_Slot)
_used_decoder = msgspec.json.Decoder(_Used)


def _day(now: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(now))


def _hour(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H", time.gmtime(now))


class FsBudgetLedger:
    """The filesystem ledger under `<root>/llm/ledger/`; safe for any number of
    processes at once, without locks.

    OSError from the filesystem propagates (the caller then does not ask the
    model: an unrecorded request would break the budget).
    """

    def __init__(self, root: Path, *, max_requests_per_hour: int, max_tokens_per_day: int,
                 instance: str = "") -> None:
        self.directory = Path(root) / "llm" / "ledger"
        self.max_requests = max_requests_per_hour
        self.max_tokens = max_tokens_per_day
        self.instance = instance

    def reserve(self, estimate: int, now: float | None = None) -> Reservation:
        """Win the next slot of today, then admit it against the slots before it.

        Raises BudgetSpent (after marking the slot refused) when the hour's requests
        or the day's tokens would be exceeded, including an estimate alone larger
        than the whole day's budget.
        """
        now = time.time() if now is None else now
        day, hour = _day(now), _hour(now)
        folder = self.directory / day
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._forget_old_days(now)
        slot = self._win_slot(folder, _Slot(hour=hour, estimate=estimate,
                                            instance=self.instance))
        requests, tokens = self._count(folder, hour, below=slot)
        refusal = None
        if requests >= self.max_requests:
            refusal = (f"llm budget spent: {requests} of {self.max_requests} requests "
                       f"this hour ({hour}Z)")
        elif tokens + estimate > self.max_tokens:
            refusal = (f"llm budget spent: {tokens} of {self.max_tokens} tokens today "
                       f"({day}), and the next request may cost {estimate}")
        if refusal is not None:
            (folder / f"{slot:0{SLOT_DIGITS}d}.refused").touch()
            raise BudgetSpent(refusal)
        return Reservation(day=day, slot=slot, estimate=estimate)

    def settle(self, reservation: Reservation, tokens_in: int, tokens_out: int) -> None:
        """Write `.used` atomically (temporary file, rename). Never raises for a
        missing day directory (pruned meanwhile); other OSErrors propagate."""
        folder = self.directory / reservation.day
        target = folder / f"{reservation.slot:0{SLOT_DIGITS}d}.used"
        tmp = folder / f".{uuid.uuid4().hex}.tmp"
        try:
            tmp.write_bytes(msgspec.json.encode(_Used(tokens_in=max(0, tokens_in),
                                                      tokens_out=max(0, tokens_out))))
        except FileNotFoundError:
            return
        os.replace(tmp, target)

    def usage(self, now: float | None = None) -> Usage:
        """Counted exactly as `reserve` counts (refused slots are free). Creates nothing."""
        now = time.time() if now is None else now
        requests, tokens = self._count(self.directory / _day(now), _hour(now), below=None)
        return Usage(requests_this_hour=requests, max_requests_per_hour=self.max_requests,
                     tokens_today=tokens, max_tokens_per_day=self.max_tokens)

    # -- internals -----------------------------------------------------------------------

    @staticmethod
    def _slot_numbers(folder: Path) -> list[int]:
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
        return [int(n) for n in names if len(n) == SLOT_DIGITS and n.isdigit()]

    def _win_slot(self, folder: Path, content: _Slot) -> int:
        tmp = folder / f".{uuid.uuid4().hex}.tmp"
        tmp.write_bytes(msgspec.json.encode(content))
        try:
            slot = len(self._slot_numbers(folder))
            while True:
                try:
                    os.link(tmp, folder / f"{slot:0{SLOT_DIGITS}d}")
                    return slot
                except FileExistsError:
                    slot += 1
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    @staticmethod
    def _count(folder: Path, hour: str, *, below: int | None) -> tuple[int, int]:
        """(admitted requests in `hour`, tokens of the day) over the slots below
        `below` (all when None). A slot not yet settled counts its estimate; a
        slot that cannot be read (vanished with a pruned day) counts nothing."""
        numbers = FsBudgetLedger._slot_numbers(folder)
        if below is not None:
            numbers = [n for n in numbers if n < below]
        requests = tokens = 0
        for n in numbers:
            name = f"{n:0{SLOT_DIGITS}d}"
            if os.path.exists(folder / f"{name}.refused"):
                continue
            try:
                slot = _slot_decoder.decode((folder / name).read_bytes())
            except (OSError, msgspec.DecodeError):
                continue
            if slot.hour == hour:
                requests += 1
            try:
                used = _used_decoder.decode((folder / f"{name}.used").read_bytes())
                tokens += used.tokens_in + used.tokens_out
            except (OSError, msgspec.DecodeError):
                tokens += slot.estimate
        return requests, tokens

    def _forget_old_days(self, now: float) -> None:
        keep = {_day(now - 86400 * i) for i in range(KEEP_DAYS)}
        try:
            days = os.listdir(self.directory)
        except FileNotFoundError:
            return
        for day in days:
            if day not in keep and len(day) == 10 and day[4] == "-":
                shutil.rmtree(self.directory / day, ignore_errors=True)


__all__ = ["BudgetLedger", "BudgetSpent", "FsBudgetLedger", "Reservation", "Usage"]
