"""Tables for the table tests: customers with numbers, categories, missing values and a short
text column, and three kinds of target a small model learns from them."""

from pathlib import Path

import numpy as np
import pandas as pd

PLANS = ("basic", "plus", "pro")
CITIES = ("Oslo", "Lima", "Pune", "Kyiv")
WORDS = ("sport", "music", "food")
FILLER = ("great", "service", "slow", "fast", "app", "today", "friendly", "price")
LIKES = tuple(f"likes_{word}" for word in WORDS)


def customers(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """Customers: ``age`` and ``income`` (numbers, some missing), ``plan`` and ``city``
    (categories, some cities missing), ``review`` (a few words) and ``customer_id`` (left out
    by the tests); the targets: ``segment`` (a class, from the plan), ``spend`` (a number, from
    income and plan) and ``likes_*`` (0/1 labels, from the words of the review)."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(PLANS, rows)
    income = rng.normal(50.0, 15.0, rows).round(1)
    likes = rng.random((rows, len(WORDS))) < 0.4
    reviews = []
    for row in likes:
        words = [word for word, liked in zip(WORDS, row) if liked] + list(rng.choice(FILLER, 3))
        reviews.append(" ".join(rng.permutation(words)))
    table = pd.DataFrame(
        {
            "customer_id": np.arange(rows),
            "age": rng.integers(18, 80, rows).astype(float),
            "income": income,
            "plan": plan,
            "city": rng.choice(CITIES, rows).astype(object),
            "review": reviews,
            "segment": np.array(["starter", "family", "business"])[[PLANS.index(p) for p in plan]],
            "spend": ((income - 50.0) / 15.0 + np.array([PLANS.index(p) for p in plan]) * 2.0).round(3),
            **{name: likes[:, i].astype(int) for i, name in enumerate(LIKES)},
        }
    )
    table.loc[rng.random(rows) < 0.1, "age"] = np.nan
    table.loc[rng.random(rows) < 0.1, "city"] = None
    return table


def customers_csv(folder: Path, name: str = "customers.csv", **settings) -> Path:
    path = Path(folder) / name
    customers(**settings).to_csv(path, index=False)
    return path
