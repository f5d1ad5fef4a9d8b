"""The business calendar across weekends, Japanese holidays and closures."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from oemhost.errors import ValidationError
from oemhost.monitor.business import BusinessCalendar, parse_periods

JST = ZoneInfo("Asia/Tokyo")
CAL = BusinessCalendar()


def jst(*args) -> datetime:
    return datetime(*args, tzinfo=JST)


@pytest.mark.parametrize(("recovered", "report_day"), [
    # Friday evening before Marine Day (Monday 2026-07-20): Tuesday
    (jst(2026, 7, 17, 19, 30), date(2026, 7, 21)),
    # Friday before a normal weekend: Monday
    (jst(2026, 11, 27, 18, 0), date(2026, 11, 30)),
    # Saturday: Monday
    (jst(2026, 11, 28, 3, 0), date(2026, 11, 30)),
    # a weekday morning: the next day
    (jst(2026, 11, 25, 9, 0), date(2026, 11, 26)),
    # Silver Week 2026: Sat 19 .. Wed 23 (Respect for the Aged, citizens' holiday, equinox)
    (jst(2026, 9, 18, 20, 0), date(2026, 9, 24)),
    # Golden Week 2026: Wed 4/29 Showa Day, then 5/3-5/6 (substitute holiday on Wed 5/6)
    (jst(2026, 5, 1, 18, 0), date(2026, 5, 7)),
    (jst(2026, 4, 28, 12, 0), date(2026, 4, 30)),
    # New Year's Day 2027 is a Friday: reported Monday 1/4 with public holidays only
    (jst(2026, 12, 31, 23, 0), date(2027, 1, 4)),
    # Sunday 2026-11-22 before Labour Thanksgiving (Mon 11/23): Tuesday
    (jst(2026, 11, 22, 10, 0), date(2026, 11, 24)),
])
def test_report_day(recovered, report_day):
    assert CAL.report_day(recovered) == report_day
    assert CAL.report_send_at(recovered) == jst(*report_day.timetuple()[:3], 10, 0)
    assert CAL.report_due(recovered) == jst(*report_day.timetuple()[:3], 17, 0)


def test_utc_input_uses_local_date():
    # 2026-07-17 15:00 UTC is Saturday 00:00 JST: the next business day is Tuesday 7/21
    assert CAL.report_day(datetime(2026, 7, 17, 15, 0, tzinfo=UTC)) == date(2026, 7, 21)
    # 14:59 UTC is still Friday 23:59 JST: same answer (Mon is a holiday)
    assert CAL.report_day(datetime(2026, 7, 17, 14, 59, tzinfo=UTC)) == date(2026, 7, 21)


def test_holiday_names_and_weekends():
    assert CAL.holiday_name(date(2026, 7, 20)) == "海の日"
    assert CAL.holiday_name(date(2026, 9, 22)) == "国民の休日"
    assert CAL.holiday_name(date(2026, 5, 6)) == "振替休日"
    assert CAL.holiday_name(date(2026, 11, 28)) == "weekend"
    assert CAL.holiday_name(date(2026, 11, 26)) is None


def test_business_hours_with_lunch():
    assert CAL.is_open(jst(2026, 11, 26, 10, 0))
    assert not CAL.is_open(jst(2026, 11, 26, 12, 30))
    assert CAL.next_open(jst(2026, 11, 26, 12, 30)) == jst(2026, 11, 26, 13, 0)
    assert CAL.next_open(jst(2026, 11, 26, 17, 0)) == jst(2026, 11, 27, 10, 0)
    assert CAL.next_open(jst(2026, 11, 26, 8, 0)) == jst(2026, 11, 26, 10, 0)
    assert CAL.next_open(jst(2026, 7, 17, 18, 0)) == jst(2026, 7, 21, 10, 0)
    with pytest.raises(ValueError):
        CAL.is_open(datetime(2026, 11, 26, 10, 0))  # naive


def test_year_end_closure_and_bank_category():
    closed = BusinessCalendar.from_settings({"closed": ["12-29", "12-30", "12-31", "01-02",
                                                        "01-03"]})
    assert closed.report_day(jst(2026, 12, 28, 18, 0)) == date(2027, 1, 4)
    bank = BusinessCalendar.from_settings({"categories": ["public", "bank"]})
    assert bank.report_day(jst(2026, 12, 30, 18, 0)) == date(2027, 1, 4)
    extra = BusinessCalendar.from_settings({"holidays": ["2026-11-26"]})
    assert extra.report_day(jst(2026, 11, 25, 18, 0)) == date(2026, 11, 27)


def test_custom_hours_and_zone():
    cal = BusinessCalendar.from_settings({"hours": ["09:00-18:00"], "timezone": "UTC",
                                          "country": "GB"})
    day = datetime(2026, 12, 24, 20, 0, tzinfo=UTC)  # Thu; 25 and 26 Dec (28 substitute)
    assert cal.report_send_at(day) == datetime(2026, 12, 29, 9, 0, tzinfo=ZoneInfo("UTC"))


@pytest.mark.parametrize(("section", "key"), [
    ({"hours": ["10-12"]}, "business.hours"),
    ({"hours": ["12:00-10:00"]}, "business.hours"),
    ({"hours": ["10:00-13:00", "12:00-17:00"]}, "business.hours"),
    ({"timezone": "Mars/Olympus"}, "business.timezone"),
    ({"country": "XX"}, "business.country"),
    ({"closed": ["13-01"]}, "business.closed"),
    ({"holidays": ["yesterday"]}, "business.holidays"),
    ({"hour": ["10:00-17:00"]}, "business"),
])
def test_bad_settings_name_the_key(section, key):
    with pytest.raises(ValidationError) as exc:
        BusinessCalendar.from_settings(section)
    assert key in exc.value.errors


def test_parse_periods_sorts():
    assert parse_periods(["13:00-17:00", "10:00-12:00"]) == (
        (time(10), time(12)), (time(13), time(17)))
