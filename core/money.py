"""Money is exact: integer minor units (cents) of the one installation currency, never a float.

Amounts cross the API as decimal strings ("12.50"); inside Podium and in the database they are
whole numbers of the currency's minor unit, so sums in SQL are exact on SQLite and PostgreSQL.
Rounding happens in one way only: `divide` (half away from zero, to the minor unit).
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from .errors import DomainError, ErrorCode

DEFAULT_CURRENCY = "EUR"

_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF "
    "CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ "
    "GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK "
    "MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB "
    "SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD "
    "USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG ZWL"
)
MINOR_DIGITS: dict[str, int] = {code: digits for digits, codes in ((0, _ZERO), (2, _TWO), (3, _THREE), (4, _FOUR))
                                for code in codes.split()}
"""The active ISO 4217 currencies (not the metals, funds-only or testing codes), with their minor units."""

MAX_AMOUNT_DIGITS = 12
"""Whole units an amount may have (below a trillion): far beyond any training cost, and far inside 64 bits."""


def check_currency(code: str) -> str | None:
    """None when `code` is an active ISO 4217 currency, else why not (for the settings check)."""
    if code in MINOR_DIGITS:
        return None
    return f"an ISO 4217 currency code such as EUR, USD or GBP, got {code!r}"


def minor_digits(currency: str) -> int:
    return MINOR_DIGITS[currency]


def parse_amount(text: str, currency: str, field: str) -> int:
    """A decimal string ("12.5", "12.50", "12") as minor units; negative, malformed, too precise for the
    currency (12.505 EUR) or too large is INVALID with the field."""
    digits = minor_digits(currency)
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise DomainError(ErrorCode.INVALID, f"{field} must be a decimal amount such as 12.50.", field)
    if value < 0:
        raise DomainError(ErrorCode.INVALID, f"{field} must not be negative.", field)
    if value >= Decimal(10) ** MAX_AMOUNT_DIGITS:
        raise DomainError(ErrorCode.INVALID, f"{field} must be below {10 ** MAX_AMOUNT_DIGITS}.", field)
    minor = value.scaleb(digits)
    if minor != minor.to_integral_value():
        raise DomainError(ErrorCode.INVALID, f"{field} has more than {digits} decimal places for {currency}.", field)
    return int(minor)


def format_amount(minor: int, currency: str) -> str:
    """Minor units as a decimal string with exactly the currency's digits: 166100 EUR is "1661.00"."""
    return str(Decimal(minor).scaleb(-minor_digits(currency)).quantize(Decimal(1).scaleb(-minor_digits(currency))))


def divide(numerator: int, denominator: int) -> int | None:
    """numerator / denominator in whole minor units, half away from zero; None when dividing by zero.
    The one rounding rule of Podium's money (per learner, per hour, an hourly rate's share)."""
    if denominator == 0:
        return None
    negative = (numerator < 0) != (denominator < 0)
    quotient, remainder = divmod(abs(numerator), abs(denominator))
    if 2 * remainder >= abs(denominator):
        quotient += 1
    return -quotient if negative else quotient
