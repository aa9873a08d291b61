"""Where each step reads and writes, and the feature table's columns.

Pure Python (no pyspark import) so any step, test or the DAG can import it cheaply.

Landing root (written by generate):
    <landing>/transactions/TX_DATE=YYYY-MM-DD/*.parquet
    <landing>/customers/*.parquet        (profiles, deterministic from the seed)
    <landing>/terminals/*.parquet
    <landing>/simulation.json            (the simulator parameters the landed days were made with)
Data root (save_to_hdfs, preprocess, and the model steps):
    <data-root>/raw/transactions/TX_DATE=YYYY-MM-DD/   (validated copy of the landing data)
    <data-root>/raw/customers/, <data-root>/raw/terminals/
    <data-root>/features/TX_DATE=YYYY-MM-DD/           (the feature table, see FEATURE_COLUMNS)
    <data-root>/manifests/raw.json, features.json      (what each stored day was made from)
"""

from __future__ import annotations

DATE_COLUMN = "TX_DATE"  # partition column: string YYYY-MM-DD (UTC date of TX_DATETIME)
KEY_COLUMN = "TRANSACTION_ID"  # row key (long); never a feature
LABEL_COLUMN = "TX_FRAUD"  # int 0/1
TIME_COLUMN = "TX_DATETIME"  # timestamp

WINDOWS_DAYS: tuple[int, ...] = (1, 7, 30)
# Terminal risk uses labels known only after this delay (fraud investigations take time).
LABEL_DELAY_DAYS = 7
# Days of raw transactions before a day that its features look at: the terminal windows reach
# back 30 days before the label delay. A day's features are exact only with all of them stored.
FEATURE_HISTORY_DAYS = max(WINDOWS_DAYS) + LABEL_DELAY_DAYS

# The model inputs, in a fixed order (15 features, as in the handbook).
FEATURE_COLUMNS: tuple[str, ...] = (
    "TX_AMOUNT",
    "TX_DURING_WEEKEND",
    "TX_DURING_NIGHT",
    *(f"CUSTOMER_ID_NB_TX_{w}DAY_WINDOW" for w in WINDOWS_DAYS),
    *(f"CUSTOMER_ID_AVG_AMOUNT_{w}DAY_WINDOW" for w in WINDOWS_DAYS),
    *(f"TERMINAL_ID_NB_TX_{w}DAY_WINDOW" for w in WINDOWS_DAYS),
    *(f"TERMINAL_ID_RISK_{w}DAY_WINDOW" for w in WINDOWS_DAYS),
)

# Every column of <data-root>/features/ besides the partition column TX_DATE.
FEATURE_TABLE_COLUMNS: tuple[str, ...] = (
    KEY_COLUMN,
    TIME_COLUMN,
    "CUSTOMER_ID",
    "TERMINAL_ID",
    LABEL_COLUMN,
    *FEATURE_COLUMNS,
)


def _join(root: str, *parts: str) -> str:
    out = root.rstrip("/")
    for part in parts:
        out += "/" + part
    return out


def landing_transactions(landing_root: str) -> str:
    return _join(landing_root, "transactions")


def landing_customers(landing_root: str) -> str:
    return _join(landing_root, "customers")


def landing_terminals(landing_root: str) -> str:
    return _join(landing_root, "terminals")


def landing_manifest(landing_root: str) -> str:
    return _join(landing_root, "simulation.json")


def raw_manifest(data_root: str) -> str:
    return _join(data_root, "manifests", "raw.json")


def features_manifest(data_root: str) -> str:
    return _join(data_root, "manifests", "features.json")


def raw_transactions(data_root: str) -> str:
    return _join(data_root, "raw", "transactions")


def raw_customers(data_root: str) -> str:
    return _join(data_root, "raw", "customers")


def raw_terminals(data_root: str) -> str:
    return _join(data_root, "raw", "terminals")


def features(data_root: str) -> str:
    return _join(data_root, "features")


def partition_dir(table: str, date: str) -> str:
    """The folder of one date's partition, e.g. features(root)/TX_DATE=2024-01-01."""
    return _join(table, f"{DATE_COLUMN}={date}")


# Column names and Spark SQL types (as DataFrame.dtypes spells them) of the landed and raw tables.
# A day's partition folder holds the transaction columns; TX_DATE is the folder name.
TRANSACTION_SCHEMA: tuple[tuple[str, str], ...] = (
    ("TRANSACTION_ID", "bigint"),
    ("TX_DATETIME", "timestamp"),
    ("CUSTOMER_ID", "bigint"),
    ("TERMINAL_ID", "bigint"),
    ("TX_AMOUNT", "double"),
    ("TX_FRAUD", "int"),
    ("TX_FRAUD_SCENARIO", "int"),
)
CUSTOMER_SCHEMA: tuple[tuple[str, str], ...] = (
    ("CUSTOMER_ID", "bigint"),
    ("x_customer_id", "double"),
    ("y_customer_id", "double"),
    ("mean_amount", "double"),
    ("std_amount", "double"),
    ("mean_nb_tx_per_day", "double"),
    ("nb_terminals", "bigint"),
)
TERMINAL_SCHEMA: tuple[tuple[str, str], ...] = (
    ("TERMINAL_ID", "bigint"),
    ("x_terminal_id", "double"),
    ("y_terminal_id", "double"),
)


# Types of FEATURE_TABLE_COLUMNS (+ the extra time columns) as written by preprocess.
FEATURE_TABLE_SCHEMA: tuple[tuple[str, str], ...] = (
    (KEY_COLUMN, "bigint"),
    (TIME_COLUMN, "timestamp"),
    ("CUSTOMER_ID", "bigint"),
    ("TERMINAL_ID", "bigint"),
    (LABEL_COLUMN, "int"),
    *((name, "double") for name in FEATURE_COLUMNS),
    ("TX_HOUR", "int"),
    ("TX_DAY_OF_WEEK", "int"),
)


def ddl(schema: tuple[tuple[str, str], ...]) -> str:
    """A Spark DDL string, e.g. for spark.read.schema(...)."""
    return ", ".join(f"`{name}` {kind}" for name, kind in schema)
