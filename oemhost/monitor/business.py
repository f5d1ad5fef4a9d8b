"""The business calendar: when failure reports are due (Japanese calendar by default).

The seed promises a failure report "by the next business day" and gives the support hours
as 10:00-12:00 / 13:00-17:00 JST on business days. A business day is a weekday that is not
a public holiday of ``country`` (the ``holidays`` package: national holidays, substitute
holidays and citizens' holidays for Japan), not one of the recurring ``closed`` days (e.g.
the year-end closure ``12-29``...``01-03``) and not one of the extra ``holidays`` dates.

``report_due(recovered_at)`` is the close of business of the first business day *after*
the day of the recovery (local time); ``report_send_at(recovered_at)`` is that day's
opening. A failure recovered on Friday evening before a Monday holiday is therefore
reported on Tuesday.

Settings (``[monitor.business]``)::

    timezone = "Asia/Tokyo"
    hours = ["10:00-12:00", "13:00-17:00"]
    country = "JP"
    categories = ["public"]        # "bank" adds Dec 31 and Jan 2-3 for JP
    closed = ["12-29", "12-30", "12-31", "01-02", "01-03"]   # recurring MM-DD
    holidays = ["2026-12-28"]      # extra one-off dates
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from oemhost.errors import ValidationError

_PERIOD = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
_MMDD = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
_KEYS = {"timezone", "hours", "country", "categories", "closed", "holidays"}


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: str = "Asia/Tokyo"
    periods: tuple[tuple[time, time], ...] = ((time(10), time(12)), (time(13), time(17)))
    country: str = "JP"
    categories: tuple[str, ...] = ("public",)
    closed: frozenset[tuple[int, int]] = frozenset()
    extra: frozenset[date] = frozenset()
    weekend: frozenset[int] = field(default=frozenset({5, 6}))

    @classmethod
    def from_settings(cls, section: Mapping[str, Any] | None) -> BusinessCalendar:
        """Build from ``[monitor.business]``; bad values raise ValidationError, naming the key."""
        section = dict(section or {})
        errors: dict[str, str] = {}
        unknown = set(section) - _KEYS
        if unknown:
            errors["business"] = f"unknown keys: {', '.join(sorted(unknown))}"
        kwargs: dict[str, Any] = {}
        tzname = str(section.get("timezone", "Asia/Tokyo"))
        try:
            ZoneInfo(tzname)
            kwargs["timezone"] = tzname
        except (ZoneInfoNotFoundError, ValueError):
            errors["business.timezone"] = f"unknown time zone {tzname!r}"
        if "hours" in section:
            try:
                kwargs["periods"] = parse_periods(section["hours"])
            except ValueError as exc:
                errors["business.hours"] = str(exc)
        country = str(section.get("country", "JP"))
        categories = tuple(str(c) for c in section.get("categories", ["public"]))
        try:
            holidays.country_holidays(country, categories=categories, years=2026)
            kwargs.update(country=country, categories=categories)
        except (NotImplementedError, ValueError) as exc:
            errors["business.country"] = f"{country}/{','.join(categories)}: {exc}"
        closed = set()
        for item in section.get("closed", []):
            m = _MMDD.match(str(item))
            if not m:
                errors["business.closed"] = f"{item!r} is not MM-DD"
                break
            closed.add((int(m.group(1)), int(m.group(2))))
        kwargs["closed"] = frozenset(closed)
        extra = set()
        for item in section.get("holidays", []):
            try:
                extra.add(item if isinstance(item, date) else date.fromisoformat(str(item)))
            except ValueError:
                errors["business.holidays"] = f"{item!r} is not YYYY-MM-DD"
                break
        kwargs["extra"] = frozenset(extra)
        if errors:
            raise ValidationError(errors, subject="monitor settings")
        return cls(**kwargs)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @functools.cached_property
    def _holidays(self) -> holidays.HolidayBase:
        return holidays.country_holidays(self.country, categories=self.categories)

    def holiday_name(self, day: date) -> str | None:
        """Why ``day`` is not a business day (holiday name, "closed", "weekend"), or None."""
        if day in self.extra:
            return "holiday"
        name = self._holidays.get(day)
        if name:
            return str(name)
        if (day.month, day.day) in self.closed:
            return "closed"
        if day.weekday() in self.weekend:
            return "weekend"
        return None

    def is_business_day(self, day: date) -> bool:
        return self.holiday_name(day) is None

    def next_business_day(self, day: date) -> date:
        """The first business day strictly after ``day``."""
        d = day + timedelta(days=1)
        for _ in range(370):
            if self.is_business_day(d):
                return d
            d += timedelta(days=1)
        raise ValueError("no business day within a year")  # pragma: no cover

    def local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("naive datetime")
        return moment.astimezone(self.tz)

    def is_open(self, moment: datetime) -> bool:
        loc = self.local(moment)
        if not self.is_business_day(loc.date()):
            return False
        t = loc.timetz().replace(tzinfo=None)
        return any(a <= t < b for a, b in self.periods)

    def next_open(self, moment: datetime) -> datetime:
        """``moment`` if business hours are on, else the next opening."""
        if self.is_open(moment):
            return moment
        loc = self.local(moment)
        day = loc.date()
        if self.is_business_day(day):
            t = loc.timetz().replace(tzinfo=None)
            for start, _end in self.periods:
                if t < start:
                    return datetime.combine(day, start, self.tz)
        return self.opening(self.next_business_day(day))

    def opening(self, day: date) -> datetime:
        return datetime.combine(day, self.periods[0][0], self.tz)

    def closing(self, day: date) -> datetime:
        end = self.periods[-1][1]
        if end == time(0):  # "24:00"
            return datetime.combine(day + timedelta(days=1), time(0), self.tz)
        return datetime.combine(day, end, self.tz)

    def report_day(self, recovered_at: datetime) -> date:
        return self.next_business_day(self.local(recovered_at).date())

    def report_due(self, recovered_at: datetime) -> datetime:
        """Deadline of the failure report: close of the next business day (aware, local)."""
        return self.closing(self.report_day(recovered_at))

    def report_send_at(self, recovered_at: datetime) -> datetime:
        """When the report goes out: the opening of the next business day (aware, local)."""
        return self.opening(self.report_day(recovered_at))


def parse_periods(spec: Iterable[str] | str) -> tuple[tuple[time, time], ...]:
    """``["10:00-12:00", "13:00-17:00"]`` -> ordered, non-overlapping periods."""
    if isinstance(spec, str):
        spec = [spec]
    periods = []
    for item in spec:
        m = _PERIOD.match(str(item).strip())
        if not m:
            raise ValueError(f"{item!r} is not HH:MM-HH:MM")
        a = time(int(m.group(1)), int(m.group(2)))
        b = time(0) if m.group(3) == "24" else time(int(m.group(3)), int(m.group(4)))
        if m.group(3) == "24" and m.group(4) != "00":
            raise ValueError(f"{item!r}: 24:MM is not a time")
        if b != time(0) and b <= a:
            raise ValueError(f"{item!r} ends before it starts")
        periods.append((a, b))
    if not periods:
        raise ValueError("at least one period is needed")
    periods.sort()
    for (_a1, b1), (a2, _b2) in zip(periods, periods[1:], strict=False):
        if b1 == time(0) or a2 < b1:
            raise ValueError("periods overlap")
    return tuple(periods)
