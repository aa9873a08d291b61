"""Small synthetic feature tables in the preprocess output shape, for the model-step tests.

Fraud depends on TX_AMOUNT through a *band* (120 < amount < 160): a random forest finds it, a
logistic regression (monotone in each feature) cannot, so the true F1 difference is large and known
in sign. Every third feature is a noisy copy of the amount; the rest are noise. Every row is its
own card, so the test protocol (cards already known as compromised are dropped) keeps every row.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from fraud_jobs import layout


def feature_frame(end: str, days: int = 7, rows_per_day: int = 400, seed: int = 0,
                  fraud_rate_outside: float = 0.005, one_class_dates: tuple[str, ...] = ()
                  ) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    end_date = dt.date.fromisoformat(end)
    frames = []
    next_id = 1
    for i in range(days):
        day = end_date - dt.timedelta(days=days - 1 - i)
        n = rows_per_day
        amount = rng.uniform(0, 300, n)
        in_band = (amount > 120) & (amount < 160)
        fraud = np.where(in_band, rng.random(n) < 0.9, rng.random(n) < fraud_rate_outside)
        if day.isoformat() in one_class_dates:
            fraud[:] = False
        seconds = np.sort(rng.integers(0, 86_400, n))
        frame = {
            layout.KEY_COLUMN: np.arange(next_id, next_id + n, dtype=np.int64),
            layout.TIME_COLUMN: pd.to_datetime(day.isoformat()) + pd.to_timedelta(seconds, "s"),
            # one card per row: no test row is dropped as a card already known as compromised
            "CUSTOMER_ID": np.arange(next_id, next_id + n, dtype=np.int64),
            "TERMINAL_ID": rng.integers(0, 50, n).astype(np.int64),
            layout.LABEL_COLUMN: fraud.astype(np.int32),
        }
        for j, col in enumerate(layout.FEATURE_COLUMNS):
            if col == "TX_AMOUNT":
                frame[col] = amount
            elif j % 3 == 0:
                # noisy copies of the amount: whatever feature subset a tree draws, the band shows
                frame[col] = amount + rng.normal(0, 3, n)
            else:
                frame[col] = rng.normal(0, 1, n)
        frame[layout.DATE_COLUMN] = day.isoformat()
        frames.append(pd.DataFrame(frame))
        next_id += n
    return pd.concat(frames, ignore_index=True)


def write_features(spark, data_root: str, end: str, drop_columns: tuple[str, ...] = (), **kwargs):
    """Write <data-root>/features/ partitioned by TX_DATE, like preprocess does."""
    pdf = feature_frame(end, **kwargs).drop(columns=list(drop_columns))
    df = spark.createDataFrame(pdf)
    df.write.mode("overwrite").partitionBy(layout.DATE_COLUMN).parquet(layout.features(data_root))
    return pdf
