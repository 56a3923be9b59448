"""A small hand-written banking glossary: the local knowledge base of the KeNet experiment (paper 29 notes, §29.4).

``term -> one-sentence definition``, written from general banking knowledge (not from NLU++'s intent names,
descriptions or utterances; no entry for the generic actions such as cancelling or activating, which are
NLU++ intents), for :class:`labelwise.learn.KnowledgeRetriever`.
"""

from __future__ import annotations

__all__ = ["BANKING_GLOSSARY"]

BANKING_GLOSSARY: dict[str, str] = {
    "standing order": "a regular payment of a fixed amount that the customer tells the bank to send to someone",
    "direct debit": "an instruction letting a company collect varying amounts from an account on agreed dates",
    "overdraft": "borrowing by spending more than the money held in a current account, up to an agreed limit",
    "credit card": "a card for buying now and repaying the card issuer later, with interest on unpaid balances",
    "debit card": "a card that takes money straight from the holder's current account when paying",
    "pin": "the secret four-digit number that confirms card payments and cash withdrawals",
    "contactless": "paying by holding a card or phone near the terminal without entering a code",
    "transfer": "moving money from one account to another, at the same bank or a different one",
    "iban": "the international bank account number used to identify an account for payments abroad",
    "sort code": "the six-digit number that identifies the bank branch holding an account",
    "account number": "the number that identifies one customer account at a bank",
    "statement": "a document listing the payments into and out of an account over a period",
    "balance": "the amount of money in an account at a given moment",
    "interest rate": "the yearly percentage charged on borrowing or paid on savings",
    "loan": "money borrowed from the bank and repaid in instalments with interest",
    "mortgage": "a long-term loan for buying a home, secured on the property",
    "savings account": "an account that pays interest on money the customer keeps aside",
    "current account": "an everyday account for receiving wages and paying bills",
    "cash machine": "a machine where customers withdraw cash with a card and PIN",
    "atm": "an automated teller machine where customers withdraw cash with a card and PIN",
    "cheque": "a paper order telling the bank to pay a sum from the writer's account",
    "refund": "money returned to the customer after a purchase is cancelled or returned",
    "fraud": "someone using an account or card without the owner's permission to steal money",
    "fee": "a charge the bank takes for a service",
    "exchange rate": "the price of one currency in another, used when paying or withdrawing abroad",
    "currency": "the money of a country, such as pounds, euros or dollars",
    "top up": "adding money to a prepaid card, wallet or phone balance",
    "online banking": "managing an account through the bank's website or mobile app",
    "password": "the secret word used to log in to online banking",
    "address": "where the customer lives, which the bank needs to keep up to date",
    "joint account": "an account shared by two or more people who can all use it",
    "business account": "an account for a company's income and expenses",
    "deposit": "money paid into an account",
    "withdraw": "take cash out of an account",
    "salary": "the wages an employer pays into an account each month",
}
