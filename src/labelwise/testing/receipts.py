"""Generated shop receipts with known header fields: the test data of TAIL's extraction claims (seed paper 13,
"Information Extraction from Heterogeneous Documents without Ground Truth Labels", notes 13.4).

Six layout templates in two languages (English, German) differ in header order, the total's keyword ("TOTAL",
"Amount due", "Summe", "Gesamt", "Balance payable"), the date format (ISO ``2024-03-15``, German ``15.03.2024``, US
``03/15/2024``), the currency (EUR, USD; written as a code or a symbol, before or after the amount) and the decimal
separator. Merchants, items, prices and dates are random. ``UNSEEN`` is held out of training so that a claim can be
checked on a format nobody wrote a rule or saw a label for.

Gold fields per receipt: ``merchant`` (as printed), ``date`` (YYYY-MM-DD), ``total`` (``"12.30"``), ``currency``
(``"EUR"``/``"USD"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

__all__ = ["TEMPLATES", "SEEN", "UNSEEN", "Receipts", "make_receipts", "RECEIPT_SCHEMA", "regex_fields"]

_FIRST = ["Green", "Golden", "Corner", "City", "Sunny", "Old", "Blue", "Royal", "Happy", "North", "River", "Little",
          "Maple", "Silver", "Fresh", "Lucky"]
_SECOND = ["Leaf", "Bean", "Harbor", "Oak", "Bridge", "Garden", "Lantern", "Mill", "Fox", "Stone", "Apple", "Bell"]
_KIND_EN = ["Market", "Cafe", "Bakery", "Grocery", "Deli", "Store", "Pharmacy", "Books"]
_KIND_DE = ["Markt", "Bäckerei", "Apotheke", "Laden", "Kiosk", "Buchhandlung", "Metzgerei", "Drogerie"]
_ITEMS_EN = ["Milk", "Bread", "Coffee", "Eggs", "Apples", "Cheese", "Butter", "Tea", "Rice", "Pasta", "Juice",
             "Soap", "Chocolate", "Yogurt", "Tomatoes", "Notebook"]
_ITEMS_DE = ["Milch", "Brot", "Kaffee", "Eier", "Äpfel", "Käse", "Butter", "Tee", "Reis", "Nudeln", "Saft", "Seife",
             "Schokolade", "Joghurt", "Tomaten", "Heft"]
_STREETS = ["Main St", "High Street", "Market Sq", "Hauptstr.", "Bahnhofstr.", "Lindenweg", "Elm Ave", "Park Rd"]

TEMPLATES = ("classic", "compact", "kassenbon", "till", "rechnung", "invoice")
UNSEEN = ("invoice",)
SEEN = tuple(t for t in TEMPLATES if t not in UNSEEN)

#: The schema the receipts are extracted with (``labelwise.data.extraction_schema`` format, as a mapping).
RECEIPT_SCHEMA = {
    "name": "receipt",
    "instruction": "Extract the header fields of a shop receipt (English or German).",
    "fields": {
        "merchant": {"description": "the shop's name as printed at the top of the receipt, not the street",
                     "type": "string"},
        "date": {"description": "the date of purchase", "type": "date"},
        "total": {"description": "the final amount paid (TOTAL, Amount due, Summe, Gesamt), not the subtotal "
                  "and not the tax", "type": "number"},
        "currency": {"description": "the currency of the total as an ISO code ($ is USD, € is EUR)",
                     "type": "string", "values": ["EUR", "USD"]},
    },
}


@dataclass
class Receipts:
    """``texts: (n,) str`` receipts, ``gold: (n,)`` dicts of the four fields, ``templates: (n,) str`` layout names."""

    texts: list
    gold: list
    templates: list

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, keep) -> "Receipts":
        keep = list(keep)
        return Receipts([self.texts[i] for i in keep], [self.gold[i] for i in keep], [self.templates[i] for i in keep])


def _money(value: float, comma: bool) -> str:
    text = f"{value:.2f}"
    return text.replace(".", ",") if comma else text


def _date(day: date, style: str) -> str:
    return {"iso": day.isoformat(), "de": day.strftime("%d.%m.%Y"), "us": day.strftime("%m/%d/%Y")}[style]


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def _receipt(rng: np.random.Generator, template: str) -> tuple[str, dict]:
    german = template in ("kassenbon", "rechnung")
    kind = _pick(rng, _KIND_DE if german else _KIND_EN)
    merchant = f"{_pick(rng, _FIRST)} {_pick(rng, _SECOND)} {kind}" if not german else \
        f"{kind} {_pick(rng, _SECOND)}{_pick(rng, ['', 'hof', 'mann', 'berg'])}"
    currency = _pick(rng, ["EUR", "USD"]) if not german else "EUR"
    day = date(2023, 1, 1) + timedelta(days=int(rng.integers(0, 700)))
    names = list(rng.choice(_ITEMS_DE if german else _ITEMS_EN, size=int(rng.integers(2, 6)), replace=False))
    prices = [round(float(rng.uniform(0.5, 30.0)), 2) for _ in names]
    subtotal = round(sum(prices), 2)
    tax = round(subtotal * (0.19 if german else 0.08), 2)
    total = round(subtotal + tax, 2)
    street = f"{int(rng.integers(1, 200))} {_pick(rng, _STREETS)}"
    clock = f"{int(rng.integers(7, 22)):02d}:{int(rng.integers(0, 60)):02d}"
    symbol = {"EUR": "€", "USD": "$"}[currency]
    comma = german
    items = [(n, _money(p, comma)) for n, p in zip(names, prices)]
    if template == "classic":  # merchant, address, US date, items, subtotal, tax, TOTAL with a symbol
        lines = [merchant, street, f"Date: {_date(day, 'us')}  {clock}", ""]
        lines += [f"{n:<14}{p:>8}" for n, p in items]
        lines += ["", f"Subtotal      {_money(subtotal, comma):>8}", f"Tax 8%        {_money(tax, comma):>8}",
                  f"TOTAL         {symbol}{_money(total, comma)}", "Thank you for shopping with us!"]
    elif template == "compact":  # merchant and ISO date on one line, "Amount due" with the code after the amount
        lines = [f"{merchant.upper()} | {_date(day, 'iso')}"]
        lines += [f"{n} x1 {p}" for n, p in items]
        lines += [f"Sales tax {_money(tax, comma)}", f"Amount due: {_money(total, comma)} {currency}",
                  f"{street}"]
    elif template == "kassenbon":  # German: header word first, "Summe EUR", German date at the bottom
        lines = ["KASSENBON", merchant, street, ""]
        lines += [f"{n:<14}{p:>8} A" for n, p in items]
        lines += ["-" * 22, f"Summe EUR {_money(total, comma):>10}", f"MwSt 19%  {_money(tax, comma):>10}",
                  f"Datum: {_date(day, 'de')} {clock}", "Vielen Dank für Ihren Einkauf"]
    elif template == "till":  # English till slip: date first, merchant after, TOTAL with the code before
        lines = [f"{_date(day, 'de')} {clock}", f"*** {merchant} ***", street]
        lines += [f"{p:>8}  {n}" for n, p in items]
        lines += [f"Net {_money(subtotal, comma)}", f"VAT {_money(tax, comma)}",
                  f"TOTAL {currency} {_money(total, comma)}"]
    elif template == "rechnung":  # German invoice-like: "Gesamt" with the € after, ISO date
        lines = [merchant, f"{street}", f"Rechnungsdatum {_date(day, 'iso')}", ""]
        lines += [f"1 x {n} {p} €" for n, p in items]
        lines += [f"Zwischensumme {_money(subtotal, comma)} €", f"zzgl. MwSt {_money(tax, comma)} €",
                  f"Gesamt {_money(total, comma)} €"]
    elif template == "invoice":  # held out: a heading before the merchant, "Balance payable", US date mid-way
        lines = ["INVOICE", f"Issued by {merchant}", f"Invoice no. {int(rng.integers(1000, 99999))}",
                 f"Issued on {_date(day, 'us')}"]
        lines += [f"- {n}: {p}" for n, p in items]
        lines += [f"Net amount {_money(subtotal, comma)}", f"Sales tax {_money(tax, comma)}",
                  f"Balance payable {symbol}{_money(total, comma)}", street]
    else:
        raise ValueError(f"unknown template {template!r}; one of {TEMPLATES}")
    printed = merchant.upper() if template == "compact" else merchant
    gold = {"merchant": printed, "date": day.isoformat(), "total": f"{total:.2f}", "currency": currency}
    return "\n".join(lines), gold


def make_receipts(n: int, *, templates=TEMPLATES, seed: int = 0) -> Receipts:
    """``n`` receipts, their gold fields and their templates (cycled in order through ``templates``, so every one
    gets ``n / len(templates)`` receipts); the same ``seed`` gives the same receipts."""
    rng = np.random.default_rng(seed)
    texts, gold, names = [], [], []
    for i in range(n):
        template = templates[i % len(templates)]
        text, fields = _receipt(rng, template)
        texts.append(text)
        gold.append(fields)
        names.append(template)
    return Receipts(texts, gold, names)


_TOTAL_LINE = re.compile(r"^(?:TOTAL|Amount due:?|Summe(?: EUR)?|Gesamt)\b(.*)$", re.I | re.M)
_DATE_LINE = re.compile(r"^(?:Date:|Datum:|Rechnungsdatum|.*\|)?\s*(\d{2}[./]\d{2}[./]\d{4}|\d{4}-\d{2}-\d{2})", re.M)


def regex_fields(text: str) -> dict:
    """The rule-based baseline of the claims (a stand-in for a layout-agnostic rule system, written for the SEEN
    templates): merchant = the first line that is not a heading word or a date (before a ``|``, inside ``***``), date =
    the first date at a line start or after Date:/Datum:, total = the amount on the line starting with TOTAL / Amount
    due / Summe / Gesamt (not Subtotal), currency = a code or symbol on that line (else None)."""
    from labelwise.generate.field_values import normalise_value, parse_date, parse_number

    lines = [line.strip() for line in text.split("\n") if line.strip()]
    merchant = None
    for line in lines:
        if line.isupper() and " " not in line or line[:1].isdigit():
            continue
        merchant = line.split("|")[0].strip(" *") or None
        break
    date_match = _DATE_LINE.search(text)
    total_match = _TOTAL_LINE.search(text)
    total = parse_number(total_match.group(1)) if total_match else None
    currency = None
    if total_match:
        for token in ("EUR", "USD", "€", "$"):
            if token in total_match.group(0):
                currency = normalise_value(token, "string", ("EUR", "USD"))
                break
    return {"merchant": merchant, "date": parse_date(date_match.group(1)) if date_match else None, "total": total,
            "currency": currency}
