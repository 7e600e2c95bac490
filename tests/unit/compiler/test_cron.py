"""Five-field cron expressions for scheduled entries: which are valid, and what a refusal says."""

from __future__ import annotations

import pytest

from engine.compiler import cron_problem


@pytest.mark.parametrize(
    "cron",
    [
        "0 9 * * *",
        "* * * * *",
        "*/15 8-18 * * mon-fri",
        "0 9 1,15 * *",
        "30 7 * jan-mar,dec SUN",
        "0 0-23/2 */3 * 7",
        "59 23 31 12 6",
        "0 0 1 1 0",
        "00 09 * * *",
        "1-59/2 * * * *",
        "5/10 * * * *",
        "0 12 * JAN,Jul *",
        "0 12 * * sun-sat",
        "0 12 * * 0-7",
        "0 9 * * 1-5,0",
        "*/60 * * * *",
        "  0   9 * *  *  ",
        "0\t9\t*\t*\t*",
    ],
)
def test_a_valid_expression_has_no_problem(cron: str) -> None:
    assert cron_problem(cron) is None


@pytest.mark.parametrize(
    ("cron", "says"),
    [
        ("0 9 * *", "has 4 fields; a schedule needs 5"),
        ("0 9 * * * *", "has 6 fields; a schedule needs 5"),
        ("", "has 0 fields"),
        ("@daily", "has 1 fields"),
        ("60 9 * * *", "'60' is not a valid minute (0-59)"),
        ("0 24 * * *", "'24' is not a valid hour (0-23)"),
        ("0 9 0 * *", "'0' is not a valid day of month (1-31)"),
        ("0 9 32 * *", "'32' is not a valid day of month (1-31)"),
        ("0 9 * 0 *", "'0' is not a valid month (1-12)"),
        ("0 9 * 13 *", "'13' is not a valid month (1-12)"),
        ("0 9 * * 8", "'8' is not a valid day of week (0-7)"),
        ("0 9 * * funday", "'funday' is not a valid day of week"),
        ("0 9 * mon *", "'mon' is not a valid month"),
        ("0 9 * * jan", "'jan' is not a valid day of week"),
        ("-1 9 * * *", "'-1' is not a valid minute"),
        ("1- 9 * * *", "'1-' is not a valid minute"),
        ("1-2-3 9 * * *", "'1-2-3' is not a valid minute"),
        ("0 9 L * *", "'L' is not a valid day of month"),
        ("0 9 ? * *", "'?' is not a valid day of month"),
        ("0 9 * * mon#1", "'mon#1' is not a valid day of week"),
        ("0 9 * * 1.5", "'1.5' is not a valid day of week"),
        ("*/0 * * * *", "the step in '*/0' (minute) must be a positive number"),
        ("*/ * * * *", "the step in '*/' (minute) must be a positive number"),
        ("*/-5 * * * *", "the step in '*/-5' (minute) must be a positive number"),
        ("0 */x * * *", "the step in '*/x' (hour) must be a positive number"),
        ("5-1 * * * *", "the range '5-1' (minute) runs backwards"),
        ("0 9 * * sat-sun", "the range 'sat-sun' (day of week) runs backwards"),
        ("0 9 * dec-jan *", "the range 'dec-jan' (month) runs backwards"),
        ("0,,5 9 * * *", "an empty item in the minute field"),
        ("0 9, * * *", "an empty item in the hour field"),
    ],
)
def test_an_invalid_expression_says_what_is_wrong(cron: str, says: str) -> None:
    problem = cron_problem(cron)

    assert problem is not None
    assert says in problem


@pytest.mark.parametrize(
    "digit",
    ["\u00b2", "\u0663", "\uff11", "\u07c1"],
    ids=["superscript two", "arabic-indic three", "fullwidth one", "nko one"],
)
def test_digits_outside_ascii_are_refused_not_crashed_on(digit: str) -> None:
    # str.isdigit accepts all of these, and int() raised on '\u00b2' inside the compiler; cron reads 0-9 only.
    for cron in (f"{digit} 9 * * *", f"0 */{digit} * * *", f"0 9 1-{digit} * *"):
        problem = cron_problem(cron)

        assert problem is not None
        assert digit in problem


def test_the_first_wrong_field_is_the_one_reported() -> None:
    problem = cron_problem("99 99 * * *")

    assert problem is not None
    assert "minute" in problem
    assert "hour" not in problem
