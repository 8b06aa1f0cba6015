"""Spoken callback times resolve to the instant the caller meant, in the caller's own timezone.

The fixed "now"s are chosen around the 2025 US daylight-saving changes (9 March and 2 November),
so a callback "tomorrow at 10" is 10:00 on the wall clock even when the night in between is an
hour shorter or longer, while "in 5 hours" stays five real hours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from conversation.time_phrases import default_callback_time, describe_when, parse_when, spoken_clock

NEW_YORK = ZoneInfo("America/New_York")
# Friday 7 March 2025, 11:00, two days before clocks go forward.
FRIDAY_MORNING = datetime(2025, 3, 7, 11, 0, tzinfo=NEW_YORK)
# Saturday 1 November 2025, 22:30, hours before clocks go back (02:00 on Sunday).
SATURDAY_LATE = datetime(2025, 11, 1, 22, 30, tzinfo=NEW_YORK)
# Saturday 8 March 2025, 11:00: the next night has no 02:00-03:00.
BEFORE_SPRING_FORWARD = datetime(2025, 3, 8, 11, 0, tzinfo=NEW_YORK)


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=NEW_YORK)


def elapsed(start: datetime, end: datetime) -> timedelta:
    """Real time between two instants (subtracting same-zone datetimes compares wall clocks)."""
    return end.astimezone(UTC) - start.astimezone(UTC)


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("Can you call me tomorrow afternoon?", local(2025, 3, 8, 14, 0)),
        ("tomorrow morning works", local(2025, 3, 8, 10, 0)),
        ("try me this evening", local(2025, 3, 7, 18, 0)),
        ("tonight", local(2025, 3, 7, 19, 0)),
        ("next Tuesday at 3", local(2025, 3, 11, 15, 0)),
        ("Tuesday at 3", local(2025, 3, 11, 15, 0)),
        ("Friday at 10am", local(2025, 3, 14, 10, 0)),  # today is Friday and 10:00 is past
        ("Friday at 4", local(2025, 3, 7, 16, 0)),  # ... but 16:00 today is still ahead
        ("at 4:30 pm", local(2025, 3, 7, 16, 30)),
        ("around 4.30 p.m.", local(2025, 3, 7, 16, 30)),
        ("in two hours", local(2025, 3, 7, 13, 0)),
        ("in 30 minutes", local(2025, 3, 7, 11, 30)),
        ("in half an hour", local(2025, 3, 7, 11, 30)),
        ("an hour and a half from now", local(2025, 3, 7, 12, 30)),
        ("in a couple of hours", local(2025, 3, 7, 13, 0)),
        ("in twenty five minutes", local(2025, 3, 7, 11, 25)),
        ("in 3 days", local(2025, 3, 10, 11, 0)),  # calendar days keep the wall time across DST
        ("in three days at 2pm", local(2025, 3, 10, 14, 0)),
        ("next week", local(2025, 3, 10, 10, 0)),
        ("next week on Wednesday", local(2025, 3, 12, 10, 0)),
        ("later today", local(2025, 3, 7, 13, 0)),
        ("on the 5th", local(2025, 4, 5, 10, 0)),  # the 5th of this month is past
        ("on the twentieth at noon", local(2025, 3, 20, 12, 0)),
        ("December 3rd at 2pm", local(2025, 12, 3, 14, 0)),
        ("the fifth of April", local(2025, 4, 5, 10, 0)),
        ("January 10", local(2026, 1, 10, 10, 0)),  # already past this year
        ("at three thirty", local(2025, 3, 7, 15, 30)),
        ("half past four", local(2025, 3, 7, 16, 30)),
        ("quarter to five", local(2025, 3, 7, 16, 45)),
        ("at 9am", local(2025, 3, 8, 9, 0)),  # 09:00 is past: tomorrow
        ("at 8", local(2025, 3, 8, 8, 0)),  # a bare 8 is 8 a.m., and it is past
        ("tomorrow evening at 7", local(2025, 3, 8, 19, 0)),
        ("tomorrow at 9 in the morning", local(2025, 3, 8, 9, 0)),
        ("good morning, call me at 3", local(2025, 3, 7, 15, 0)),  # "good morning" is a greeting
        ("day after tomorrow at noon", local(2025, 3, 9, 12, 0)),
        ("tomorrow, same time", local(2025, 3, 8, 11, 0)),
        ("end of the day", local(2025, 3, 7, 17, 0)),
        ("Monday 9 AM", local(2025, 3, 10, 9, 0)),
        ("at 17:45", local(2025, 3, 7, 17, 45)),
    ],
)
def test_phrases_on_a_friday_morning(phrase: str, expected: datetime) -> None:
    when = parse_when(phrase, FRIDAY_MORNING)

    assert when == expected
    assert when is not None and when.tzinfo is NEW_YORK
    assert when.utcoffset() == expected.utcoffset()  # the right side of the DST change


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("tomorrow morning", local(2025, 11, 2, 10, 0)),
        ("at 9am", local(2025, 11, 2, 9, 0)),
        ("tonight", local(2025, 11, 2, 19, 0)),  # tonight is over at 22:30: tomorrow night
        ("this evening", local(2025, 11, 2, 18, 0)),
        ("next week", local(2025, 11, 3, 10, 0)),
        ("Monday at 3", local(2025, 11, 3, 15, 0)),
        ("Saturday at 10", local(2025, 11, 8, 10, 0)),  # today is Saturday, 10:00 is past
        ("this weekend", local(2025, 11, 2, 10, 0)),
        ("later today", local(2025, 11, 2, 10, 0)),  # too late for today: the default next morning
    ],
)
def test_phrases_late_on_a_saturday_before_clocks_go_back(phrase: str, expected: datetime) -> None:
    when = parse_when(phrase, SATURDAY_LATE)

    assert when == expected
    assert when is not None and when.utcoffset() == timedelta(hours=-5)  # EST after the change


def test_elapsed_time_is_real_time_across_the_fall_back_night() -> None:
    when = parse_when("call me in 5 hours", SATURDAY_LATE)

    assert when is not None
    assert elapsed(SATURDAY_LATE, when) == timedelta(hours=5)
    assert (when.hour, when.minute, when.utcoffset()) == (2, 30, timedelta(hours=-5))  # wall clock moved 4 h


def test_tomorrow_keeps_the_wall_time_across_the_spring_forward_night() -> None:
    when = parse_when("tomorrow at 10", BEFORE_SPRING_FORWARD)

    assert when == local(2025, 3, 9, 10, 0)
    assert when is not None and when.utcoffset() == timedelta(hours=-4)
    assert elapsed(BEFORE_SPRING_FORWARD, when) == timedelta(hours=22)  # the night was an hour shorter


def test_a_time_in_the_dst_gap_becomes_the_real_instant_after_it() -> None:
    when = parse_when("tomorrow at 2:30 am", BEFORE_SPRING_FORWARD)

    assert when is not None
    assert (when.hour, when.minute, when.utcoffset()) == (3, 30, timedelta(hours=-4))


def test_this_afternoon_said_during_the_afternoon_means_soon() -> None:
    mid_afternoon = local(2025, 3, 7, 15, 20)

    assert parse_when("this afternoon", mid_afternoon) == local(2025, 3, 7, 16, 30)
    assert parse_when("this morning", mid_afternoon) == local(2025, 3, 8, 10, 0)  # morning is over


def test_day_of_month_skips_months_without_that_day() -> None:
    april_tenth = local(2025, 4, 10, 11, 0)

    assert parse_when("on the 31st", april_tenth) == local(2025, 5, 31, 10, 0)  # April has 30 days


@pytest.mark.parametrize(
    "phrase",
    ["I'm busy right now", "call me back later", "sounds good", "", "we have three kids", "I am 45 years old"],
)
def test_phrases_without_a_time_give_none(phrase: str) -> None:
    assert parse_when(phrase, FRIDAY_MORNING) is None


def test_every_result_is_in_the_future_and_minute_precise() -> None:
    now = local(2025, 3, 7, 23, 59, 42)
    for phrase in ("at 9am", "tonight", "this evening", "Friday", "in 10 minutes", "on the 7th", "at 11:59 pm"):
        when = parse_when(phrase, now)
        assert when is not None and when > now, phrase
        assert (when.second, when.microsecond) == (0, 0), phrase


def test_works_with_a_fixed_offset_zone() -> None:
    paris_winter = timezone(timedelta(hours=1))
    now = datetime(2025, 1, 15, 9, 0, tzinfo=paris_winter)

    assert parse_when("tomorrow at 4pm", now) == datetime(2025, 1, 16, 16, 0, tzinfo=paris_winter)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_when("tomorrow", datetime(2025, 3, 7, 11, 0))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(2025, 3, 7, 11, 0), local(2025, 3, 7, 13, 0)),
        (local(2025, 3, 7, 11, 7), local(2025, 3, 7, 13, 15)),  # rounded up to the quarter hour
        (local(2025, 3, 7, 16, 50), local(2025, 3, 7, 19, 0)),
        (local(2025, 3, 7, 18, 0), local(2025, 3, 8, 10, 0)),  # not at 8 pm: tomorrow morning
        (local(2025, 3, 7, 5, 30), local(2025, 3, 7, 10, 0)),  # not at 7:30 am: 10:00
        (SATURDAY_LATE, local(2025, 11, 2, 10, 0)),
    ],
)
def test_default_callback_time(now: datetime, expected: datetime) -> None:
    assert default_callback_time(now) == expected


def test_describe_when_says_day_and_time_in_words() -> None:
    now = FRIDAY_MORNING
    assert describe_when(local(2025, 3, 7, 16, 30), now) == "today at 4:30 PM"
    assert describe_when(local(2025, 3, 7, 19, 0), now) == "this evening at 7 PM"
    assert describe_when(local(2025, 3, 7, 23, 0), now) == "tonight at 11 PM"
    assert describe_when(local(2025, 3, 8, 14, 0), now) == "tomorrow at 2 PM"
    assert describe_when(local(2025, 3, 11, 15, 0), now) == "on Tuesday, March 11 at 3 PM"
    assert describe_when(local(2026, 1, 10, 12, 0), now) == "on Saturday, January 10, 2026 at noon"
    # An instant given in another zone is described on the caller's clock.
    assert describe_when(datetime(2025, 3, 7, 19, 0, tzinfo=UTC), now) == "today at 2 PM"


@pytest.mark.parametrize(
    ("hour", "minute", "spoken"),
    [(0, 0, "midnight"), (9, 0, "9 AM"), (12, 0, "noon"), (12, 30, "12:30 PM"), (14, 5, "2:05 PM")],
)
def test_spoken_clock(hour: int, minute: int, spoken: str) -> None:
    assert spoken_clock(local(2025, 3, 7, hour, minute)) == spoken


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("give me a couple of hours", local(2025, 3, 7, 13, 0)),
        ("call me back not before four", local(2025, 3, 7, 16, 0)),
        ("im at work but dont call before four", local(2025, 3, 7, 16, 0)),
        ("call me bright and early", local(2025, 3, 8, 8, 30)),
        ("call me late in the day", local(2025, 3, 7, 16, 30)),
        ("once im back from my break", local(2025, 3, 7, 12, 0)),
        ("once i am back from my lunch break", local(2025, 3, 7, 13, 0)),
        ("call me back at the end of the week", local(2025, 3, 7, 13, 0)),  # said on the Friday: later today
        ("call me back before the weekend", local(2025, 3, 7, 13, 0)),
    ],
)
def test_times_people_actually_say(phrase: str, expected: datetime) -> None:
    assert parse_when(phrase, FRIDAY_MORNING) == expected


def test_before_the_weekend_said_early_in_the_week_is_that_friday() -> None:
    monday = local(2025, 3, 3, 11, 0)

    assert parse_when("call me back before the weekend", monday) == local(2025, 3, 7, 10, 0)
