"""Spoken callback times ("tomorrow afternoon", "next Tuesday at 3") as aware datetimes.

A caller who says "call me back tomorrow afternoon" must get a callback at a real instant in
*their* wall-clock time, so every phrase is resolved against ``now_local`` (aware, in the
customer's timezone) and the answer carries the same tzinfo. The readings we chose, which
callers and tests rely on, are listed on :func:`parse_when`. Hand-written on purpose: ADR 0010.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from conversation.intents import normalize

DEFAULT_DAY_TIME = time(10, 0)  # a day named without a time
DEFAULT_CALLBACK_DELAY = timedelta(hours=2)  # "call me back later"
CALLBACK_DAY_START = time(9, 0)
CALLBACK_DAY_END = time(19, 0)  # a default callback never lands after this


@dataclass(frozen=True)
class _DayPart:
    start: time  # what we propose when only the part of the day is named
    ends_at_hour: int  # "this afternoon" said after this hour means tomorrow afternoon
    pm: bool  # a bare hour in this part of the day is p.m.


_DAY_PARTS: dict[str, _DayPart] = {
    "morning": _DayPart(time(10, 0), 12, pm=False),
    "afternoon": _DayPart(time(14, 0), 17, pm=True),
    "evening": _DayPart(time(18, 0), 21, pm=True),
    "tonight": _DayPart(time(19, 0), 22, pm=True),
    "night": _DayPart(time(19, 0), 22, pm=True),
}

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_MONTH_ALIASES = {name: index + 1 for index, name in enumerate(_MONTHS)} | {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH = "|".join(sorted(_MONTH_ALIASES, key=len, reverse=True))
_MONTH_NO_MAY = "|".join(sorted((m for m in _MONTH_ALIASES if m != "may"), key=len, reverse=True))

_UNIT_WORDS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"
)  # fmt: skip
_NUMBER_WORDS = {word: value for value, word in enumerate(_UNIT_WORDS)}
_TENS_WORDS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50}
_ORDINAL_NAMES = (
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
    "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth",
    "twentieth"
)  # fmt: skip
_ORDINAL_WORDS = {word: value for value, word in enumerate(_ORDINAL_NAMES, start=1)} | {"thirtieth": 30}
_ORDINAL = re.compile(
    rf"\b(?P<before>the|{_MONTH}) (?:(?P<tens>twenty|thirty) )?(?P<ord>{'|'.join(_ORDINAL_WORDS)})\b"
    rf"|\b(?:(?P<tens2>twenty|thirty) )?(?P<ord2>{'|'.join(_ORDINAL_WORDS)}) of\b"
)


def _ordinal_suffix(value: int) -> str:
    if 10 <= value % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th")


def _ordinals_to_digits(text: str) -> str:
    """ "the fifth" -> "the 5th", but only next to "the", a month or "of" ("a second" stays)."""

    def replace(found: re.Match[str]) -> str:
        tens = found["tens"] or found["tens2"]
        word = found["ord"] or found["ord2"]
        value = _ORDINAL_WORDS[word] + (_TENS_WORDS[tens] if tens else 0)
        digits = f"{value}{_ordinal_suffix(value)}"
        return f"{found['before']} {digits}" if found["before"] else f"{digits} of"

    return _ORDINAL.sub(replace, text)


def _cardinals_to_digits(text: str) -> str:
    """ "three thirty" -> "3 30", "twenty five" -> "25": number words as the regexes expect them."""
    words = text.split()
    out: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word in _TENS_WORDS:
            value = _TENS_WORDS[word]
            following = words[index + 1] if index + 1 < len(words) else ""
            if 0 < _NUMBER_WORDS.get(following, 0) < 10:
                value += _NUMBER_WORDS[following]
                index += 1
            out.append(str(value))
        elif word in _NUMBER_WORDS:
            out.append(str(_NUMBER_WORDS[word]))
        else:
            out.append(word)
        index += 1
    return " ".join(out)


def _prepare(text: str) -> str:
    normalized = normalize(text).replace("o clock", "oclock")
    normalized = re.sub(r"\btmrw\b|\btomorow\b|\btmr\b", "tomorrow", normalized)
    # "give me a couple of hours" is "in a couple of hours"
    normalized = re.sub(
        r"\bgive (me|us) (?=(an?|a couple of|a few|couple of|few|[a-z]+|\d+) (minute|min|hour|day|week)s?\b)",
        "in ",
        normalized,
    )
    return _cardinals_to_digits(_ordinals_to_digits(normalized))


# --- building local instants ------------------------------------------------------------------


def _at(day: date, clock: time, now: datetime) -> datetime:
    """``day`` at wall time ``clock`` in ``now``'s zone, as a real instant (DST gaps move on)."""
    tz = now.tzinfo
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC).astimezone(tz)


def _after(now: datetime, delta: timedelta) -> datetime:
    """``delta`` of elapsed time after ``now``, done in UTC so a DST change cannot stretch it."""
    return (now.astimezone(UTC) + delta).astimezone(now.tzinfo).replace(second=0, microsecond=0)


def _round_up_to_quarter(moment: datetime) -> datetime:
    moment = moment.replace(second=0, microsecond=0)
    return _after(moment, timedelta(minutes=(-moment.minute) % 15))


def _require_aware(now_local: datetime) -> None:
    if now_local.tzinfo is None or now_local.utcoffset() is None:
        raise ValueError("now_local must be an aware datetime in the customer's timezone")


# --- the pieces of a phrase ---------------------------------------------------------------------

_RELATIVE = re.compile(
    r"\b(?:in|within|after) (?:about |around |another |like )?"
    r"(?P<amount>\d+|an?|a couple of|a couple|couple of|a few|few|half an?)"
    r"(?P<half1> and a half)? (?P<unit>minute|min|mins|hour|hr|hrs|day|week)s?(?P<half2> and a half)?\b"
    r"|\b(?P<amount2>\d+|an?|a couple of|a few) (?P<unit2>minute|min|hour|hr|day|week)s?"
    r"(?P<half3> and a half)? from now\b"
    r"|\b(?P<halfhour>in half an hour|in a half hour|half an hour from now)\b"
)
# "once I'm back from my break": a break is about an hour (a lunch break is "after lunch").
_BREAK = re.compile(r"\b(back from|after|done with|off) (my|the|a|our) (coffee |short |quick |little )?break\b")
BREAK_LENGTH = timedelta(hours=1)
_UNIT_MINUTES = {"minute": 1, "min": 1, "mins": 1, "hour": 60, "hr": 60, "hrs": 60}
_UNIT_DAYS = {"day": 1, "week": 7}

_CLOCK_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("past", re.compile(r"\b(?P<which>half|quarter) past (?P<h>\d{1,2})\b")),
    ("to", re.compile(r"\bquarter (?:to|till|of) (?P<h>\d{1,2})\b")),
    ("meridiem", re.compile(r"\b(?P<h>\d{1,2})(?::(?P<m>\d{2})| (?P<m2>[0-5]\d))?\s*(?P<ampm>am|pm)\b")),
    ("oclock", re.compile(r"\b(?P<h>\d{1,2}) oclock\b")),
    ("colon", re.compile(r"\b(?P<h>\d{1,2}):(?P<m>\d{2})\b")),
    (
        "prefixed",
        re.compile(
            r"\b(?P<prefix>at|around|about|by|after|say|for|from|before|till|until) (?:about |around |like )?"
            r"(?P<h>\d{1,2})(?: (?P<m>[0-5]\d))?\b"
            r"(?! ?(?:minute|min|hour|hr|day|week|month|year|percent|%|people|dollar|buck|st\b|nd\b|rd\b|th\b))"
        ),
    ),
)
_NAMED_CLOCKS: tuple[tuple[re.Pattern[str], time], ...] = (
    (re.compile(r"\b(after|back from|done with|finish(ed)?) (my |our |the )?lunch( break)?\b"), time(13, 0)),
    (re.compile(r"\bbright and early\b"), time(8, 30)),
    (re.compile(r"\blate in the (day|afternoon)\b|\blate afternoon\b"), time(16, 30)),
    (re.compile(r"\bmid ?afternoon\b"), time(14, 30)),
    (re.compile(r"\bearly afternoon\b"), time(13, 0)),
    (re.compile(r"\blate morning\b"), time(11, 0)),
    (re.compile(r"\bearly evening\b"), time(17, 30)),
    (re.compile(r"\b(noon|midday|lunch ?time|lunch)\b"), time(12, 0)),
    (re.compile(r"\bend of (the )?(day|business)\b|\bclose of business\b|\beod\b|\bcob\b"), time(17, 0)),
    (re.compile(r"\bfirst thing\b"), time(9, 0)),
)
_DAY_PART = re.compile(r"(?<!good )(?<!last )\b(?P<part>morning|afternoon|evening|tonight|night)\b")


@dataclass(frozen=True)
class _Clock:
    hour: int
    minute: int
    meridiem: str | None  # "am" / "pm" when said
    before: bool = False  # "before four": an hour earlier; "not before four" / "don't call before four" is four


_NOT_BEFORE = re.compile(r"\b(not|do not (call|ring|phone|contact)( me| us)?|never) $")


def _find_clock(text: str) -> _Clock | None:
    for kind, pattern in _CLOCK_PATTERNS:
        for found in pattern.finditer(text):
            hour = int(found["h"])
            if kind == "past":
                clock = _Clock(hour, 30 if found["which"] == "half" else 15, None)
            elif kind == "to":
                clock = _Clock(hour - 1 if hour > 1 else 12, 45, None)
            else:
                minute_text = found.groupdict().get("m") or found.groupdict().get("m2")
                before = found.groupdict().get("prefix") in ("before", "till", "until") and not _NOT_BEFORE.search(
                    text[: found.start()]
                )
                clock = _Clock(hour, int(minute_text) if minute_text else 0, found.groupdict().get("ampm"), before)
            if clock.minute < 60 and (0 < clock.hour <= 12 or (clock.meridiem is None and clock.hour < 24)):
                return clock
    return None


def _hour_24(clock: _Clock, part: _DayPart | None) -> int:
    """A spoken hour on the 24-hour clock, read in business hours when am/pm was not said."""
    hour = clock.hour
    if clock.meridiem == "am":
        return 0 if hour == 12 else hour
    if clock.meridiem == "pm":
        return hour if hour == 12 else hour + 12
    if hour >= 12 or hour == 0:
        return hour
    if part is not None:
        return hour + 12 if part.pm else hour
    return hour + 12 if hour <= 7 else hour


@dataclass(frozen=True)
class _Day:
    day: date
    roll: str  # how to move on when the time is already past: "day", "week", "month", "year", or "soon"
    # ("before the weekend" said on the Friday: later that day, not next Friday)


def _next_month_with_day(start: date, day_of_month: int) -> date | None:
    year, month = start.year, start.month
    for _ in range(13):
        month += 1
        if month > 12:
            year, month = year + 1, 1
        try:
            return date(year, month, day_of_month)
        except ValueError:
            continue
    return None


def _month_day(text: str, today: date) -> _Day | None:
    patterns = (
        rf"\b(?P<month>{_MONTH}) (?:the )?(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b",
        rf"\b(?:the )?(?P<day>\d{{1,2}})(?:st|nd|rd|th)? of (?P<month>{_MONTH})\b",
        rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)? (?P<month>{_MONTH_NO_MAY})\b",
    )
    for pattern in patterns:
        found = re.search(pattern, text)
        if not found:
            continue
        month, day_of_month = _MONTH_ALIASES[found["month"]], int(found["day"])
        for year in (today.year, today.year + 1):
            try:
                candidate = date(year, month, day_of_month)
            except ValueError:
                break
            if candidate >= today:
                return _Day(candidate, "year")
    return None


def _day_of_month(text: str, today: date) -> _Day | None:
    found = re.search(r"\bthe (?P<day>\d{1,2})(?:st|nd|rd|th)\b", text)
    if not found or not 1 <= int(found["day"]) <= 31:
        return None
    day_of_month = int(found["day"])
    if day_of_month >= today.day:
        try:
            return _Day(today.replace(day=day_of_month), "month")
        except ValueError:
            pass  # no such day this month: the next month that has it
    later = _next_month_with_day(today, day_of_month)
    return _Day(later, "month") if later else None


def _find_day(text: str, today: date) -> _Day | None:
    if re.search(r"\bday after tomorrow\b", text):
        return _Day(today + timedelta(days=2), "day")
    if re.search(r"\btomorrow\b", text):
        return _Day(today + timedelta(days=1), "day")
    weekday = re.search(rf"\b(?:(?P<which>next|this|coming|on) )?(?P<name>{'|'.join(_WEEKDAYS)})s?\b", text)
    next_week = re.search(r"\bnext week\b", text)
    if next_week:
        monday = today + timedelta(days=(7 - today.weekday()) or 7)
        offset = _WEEKDAYS.index(weekday["name"]) if weekday else 0
        return _Day(monday + timedelta(days=offset), "week")
    if weekday:
        delta = (_WEEKDAYS.index(weekday["name"]) - today.weekday()) % 7
        if delta == 0 and weekday["which"] == "next":
            delta = 7
        return _Day(today + timedelta(days=delta), "week")
    if re.search(r"\bnext month\b", text):
        later = _next_month_with_day(today, min(today.day, 28))
        return _Day(later, "month") if later else None
    if re.search(r"\b(before|by) the weekend\b|\bend of (the|this) week\b", text):
        return _Day(today + timedelta(days=(4 - today.weekday()) % 7), "soon")  # that Friday
    if re.search(r"\b(this |the |on the |over the )?weekend\b", text):
        return _Day(today + timedelta(days=(5 - today.weekday()) % 7), "day")
    found = _month_day(text, today) or _day_of_month(text, today)
    if found:
        return found
    if re.search(r"\btoday\b|\btonight\b|\bthis (morning|afternoon|evening)\b", text):
        return _Day(today, "day")
    return None


def _roll(day: _Day) -> date:
    if day.roll == "week":
        return day.day + timedelta(days=7)
    if day.roll == "month":
        return _next_month_with_day(day.day, day.day.day) or day.day + timedelta(days=31)
    if day.roll == "year":
        try:
            return day.day.replace(year=day.day.year + 1)
        except ValueError:  # 29 February
            return day.day.replace(year=day.day.year + 1, day=28)
    return day.day + timedelta(days=1)


def _relative(text: str, now: datetime) -> tuple[timedelta | None, int | None]:
    """("in 2 hours") -> (elapsed delta, None); ("in 3 days") -> (None, calendar days)."""
    found = _RELATIVE.search(text)
    if not found:
        return None, None
    if found["halfhour"]:
        return timedelta(minutes=30), None
    amount_text = found["amount"] or found["amount2"]
    unit = found["unit"] or found["unit2"]
    if amount_text.isdigit():
        amount = float(amount_text)
    elif amount_text.startswith("half"):
        amount = 0.5
    elif "couple" in amount_text:
        amount = 2.0
    elif "few" in amount_text:
        amount = 3.0
    else:  # "a" / "an"
        amount = 1.0
    if found["half1"] or found["half2"] or found["half3"]:
        amount += 0.5
    if unit in _UNIT_MINUTES:
        return timedelta(minutes=amount * _UNIT_MINUTES[unit]), None
    return None, round(amount * _UNIT_DAYS[unit])


# --- public API ---------------------------------------------------------------------------------


def parse_when(text: str, now_local: datetime) -> datetime | None:
    """The instant ``text`` names, in ``now_local``'s timezone, or None when it names no time.

    Always in the future: a time already past today moves to its next occurrence. Seconds are
    dropped: callbacks are minute-precise. The readings:

    - parts of the day: morning 10:00, afternoon 14:00, evening 18:00, tonight / night 19:00,
      noon / lunch 12:00, after lunch 13:00, end of the day 17:00, first thing 09:00;
    - a bare hour without am/pm is read in business hours: 1-7 -> p.m., 8-11 -> a.m., 12 -> noon;
      a part of the day decides it when given ("tomorrow evening at 7" -> 19:00);
    - a day without a time ("tomorrow", "on Friday", "next week") -> 10:00 that day; "next week"
      is the coming Monday, "next month" the same day of next month; a weekday is its next
      occurrence ("next Tuesday" and "Tuesday" alike), or today when the caller names today and
      the time is still ahead;
    - a time already past moves forward: "at 9am" said at 11:00 -> tomorrow 09:00; "this
      afternoon" said at 15:30 -> in an hour (rounded up to the quarter), since it is still afternoon;
    - "later today" is two hours from now (rounded up to the quarter hour) while still today; with
      no time at all ("call me back later") the caller gets :func:`default_callback_time`;
    - "in 30 minutes" / "in two hours" are elapsed time (computed in UTC, so a DST change in
      between does not shift them); "in 3 days" is calendar days at the same wall-clock time.

    Wall times are built as local dates and clock times with the zone attached, then normalised
    through UTC, so a time in a DST gap (02:30 on the spring-forward night) becomes the real
    instant after it instead of a time that never happens.
    """
    _require_aware(now_local)
    text = _prepare(text)
    now = now_local
    today = now.date()

    elapsed, calendar_days = _relative(text, now)
    if elapsed is None and _BREAK.search(text):
        elapsed = BREAK_LENGTH
    if elapsed is not None:
        return _after(now, elapsed)

    clock = _find_clock(text)
    part_match = _DAY_PART.search(text)
    part = _DAY_PARTS[part_match["part"]] if part_match else None
    named_clock = next((value for pattern, value in _NAMED_CLOCKS if pattern.search(text)), None)
    if re.search(r"\bsame time\b", text):
        named_clock = now.time().replace(second=0, microsecond=0)

    if clock is not None:
        wall: time | None = time(_hour_24(clock, part), clock.minute)
        if clock.before:  # "before four": comfortably before, an hour earlier
            wall = time(max(wall.hour - 1, 0), wall.minute)
    elif named_clock is not None:
        wall = named_clock
    elif part is not None:
        wall = part.start
    else:
        wall = None

    if calendar_days is not None:
        day = today + timedelta(days=calendar_days)
        return _at(day, wall or now.time().replace(second=0, microsecond=0), now)

    if wall is None and re.search(r"\blater (on )?today\b|\blater (on )?this (morning|afternoon|evening)\b", text):
        later = _round_up_to_quarter(_after(now, DEFAULT_CALLBACK_DELAY))
        return later if later.date() == today else default_callback_time(now)
    found_day = _find_day(text, today)
    if found_day is None and wall is None:
        return None
    day = found_day or _Day(today, "day")
    candidate = _at(day.day, wall or DEFAULT_DAY_TIME, now)
    if candidate > now:
        return candidate
    if day.roll == "soon":
        return default_callback_time(now)
    still_that_part = part is not None and now.hour < part.ends_at_hour
    if day.day == today and clock is None and named_clock is None and still_that_part:
        # "this afternoon" said during the afternoon: soon, not tomorrow.
        return _round_up_to_quarter(_after(now, timedelta(hours=1)))
    return _at(_roll(day), wall or DEFAULT_DAY_TIME, now)


_UNREADABLE_TIME = re.compile(
    r"\b(when|once|after|as soon as|whenever|until|till) (my|the|i|we|things|it|he|she|they|our|his|her|everyone)\b"
    r"|\bat some point\b|\bsome ?time\b|\busual time\b|\b\d+ oclock\b|\bthe \d+(st|nd|rd|th)\b"
    r"|\b(at|around|about) \d+\b"
)


def mentions_unreadable_time(text: str) -> bool:
    """The caller tied the callback to something we cannot put on a clock ("after my appointment",
    "at some point", "at twenty five o'clock"): ask them, never guess. Only meaningful when
    :func:`parse_when` found no time."""
    return bool(_UNREADABLE_TIME.search(_prepare(text)))


_TIME_ANSWER = re.compile(
    r"^((any ?time|some ?time|maybe|probably|how about|what about|try) )?(once|as soon as|tomorrow|tonight|today"
    r"|this|next|on|at|around|"
    r"about|after|before|not before|in|first thing|bright and early|late|early|mid|noon|midday|lunch|end of|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|morning|afternoon|evening|half|quarter|\d)\b"
    r"|\b(works|would work|would be (good|great|better|best|fine|perfect|ideal)|is (good|better|best|fine|perfect)|"
    r"suits me|i am free|i will be free)\b"
)


def is_time_answer(text: str) -> bool:
    """The utterance *is* a time ("thursday evening", "um tonight works", "in twenty minutes"),
    as a caller answers "when suits you?"; whether it names one is :func:`parse_when`'s job."""
    words = re.sub(r"^((um|uh|er|hmm|so|ok|okay|well|yeah|oh|alright) )+", "", _prepare(text))
    return bool(_TIME_ANSWER.search(words))


def default_callback_time(now_local: datetime) -> datetime:
    """When to call back a caller who named no time ("I'm busy", "call me back later").

    Two hours from now (rounded up to the quarter hour) while that is still inside the day
    (09:00-19:00); before 09:00 it is 10:00 today, and later in the evening 10:00 tomorrow:
    a caller who said "later" at 8 pm does not want a call at 10 pm. The engine still moves
    the time into the customer's allowed hours (working days, do-not-call windows).
    """
    _require_aware(now_local)
    candidate = _round_up_to_quarter(_after(now_local, DEFAULT_CALLBACK_DELAY))
    today = now_local.date()
    if candidate.date() == today and candidate.time() < CALLBACK_DAY_START:
        return _at(today, DEFAULT_DAY_TIME, now_local)
    if candidate.date() == today and candidate.time() <= CALLBACK_DAY_END:
        return candidate
    return _at(today + timedelta(days=1), DEFAULT_DAY_TIME, now_local)


_WEEKDAY_NAMES = tuple(name.capitalize() for name in _WEEKDAYS)
_MONTH_NAMES = tuple(name.capitalize() for name in _MONTHS)


def spoken_clock(moment: datetime) -> str:
    """ "2 PM", "4:30 PM", "noon": how a person says a time (no locale, so always the same)."""
    if (moment.hour, moment.minute) == (12, 0):
        return "noon"
    if (moment.hour, moment.minute) == (0, 0):
        return "midnight"
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    return f"{hour} {suffix}" if moment.minute == 0 else f"{hour}:{moment.minute:02d} {suffix}"


def describe_when(when: datetime, now_local: datetime) -> str:
    """ "today at 4:15 PM", "this evening at 7 PM", "tomorrow at 2 PM", "on Tuesday, March 12 at 3 PM".

    Beyond tomorrow the date is said too, so a caller who meant another Tuesday can correct it.
    """
    _require_aware(now_local)
    local = when.astimezone(now_local.tzinfo)
    days = (local.date() - now_local.date()).days
    at = f"at {spoken_clock(local)}"
    if days == 0:
        return f"{'tonight' if local.hour >= 21 else 'this evening' if local.hour >= 17 else 'today'} {at}"
    if days == 1:
        return f"tomorrow {at}"
    year = f", {local.year}" if local.year != now_local.year else ""
    return f"on {_WEEKDAY_NAMES[local.weekday()]}, {_MONTH_NAMES[local.month - 1]} {local.day}{year} {at}"
